// Log traces without a node: TraceManager over a real ReplicatedTables (no store), the
// Tracer's matching and the lines it writes (session/trace.hpp).
#include "session/trace.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <sstream>

#include "config/temp_dir.hpp"
#include "tables/replicated_tables.hpp"

namespace {

using namespace emqxd;
using session::TraceManager;
using session::Tracer;
using session::TraceSpec;
using session::TraceType;

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TraceSpec spec(std::string name, TraceType type, std::string filter) {
  TraceSpec s;
  s.name = std::move(name);
  s.type = type;
  s.filter = std::move(filter);
  s.start_at = now_s();
  s.end_at = s.start_at + 600;
  return s;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Fixture {
  explicit Fixture(std::uint64_t max_file = 1 << 20) {
    cfg.node.name = "n1@127.0.0.1";
    cfg.node.data_dir = dir.path().string();
    cfg.trace.max_file_size = max_file;
    traces = std::make_unique<TraceManager>(cfg);
    traces->attach(tables);
    tables.load();
    traces->start();
  }
  config::test::TempDir dir;
  config::Config cfg;
  tables::ReplicatedTables tables{nullptr, "n1@127.0.0.1"};
  std::unique_ptr<TraceManager> traces;
};

mqtt::Publish publish(std::string_view topic, std::string_view payload) {
  mqtt::Publish p;
  p.qos = mqtt::QoS::AtLeastOnce;
  p.packet_id = 7;
  p.topic = topic;
  p.payload = payload;
  return p;
}

}  // namespace

TEST_CASE("a definition survives its encoding", "[trace]") {
  TraceSpec s = spec("t1", TraceType::IpAddress, "10.0.0.1");
  s.enable = false;
  s.payload_encode = "hex";
  s.formatter = "json";
  s.payload_limit = 0;
  auto back = session::decode_trace("t1", session::encode_trace(s));
  REQUIRE(back);
  CHECK(back->name == "t1");
  CHECK(back->type == TraceType::IpAddress);
  CHECK(back->filter == "10.0.0.1");
  CHECK_FALSE(back->enable);
  CHECK(back->start_at == s.start_at);
  CHECK(back->end_at == s.end_at);
  CHECK(back->payload_encode == "hex");
  CHECK(back->formatter == "json");
  CHECK(back->payload_limit == 0);
  CHECK_FALSE(session::decode_trace("t1", "{}"));
  CHECK_FALSE(session::decode_trace("t1", "not json"));
}

TEST_CASE("status follows enable and the clock", "[trace]") {
  TraceSpec s = spec("t", TraceType::ClientId, "c");
  CHECK(session::trace_status(s, s.start_at - 1) == "waiting");
  CHECK(session::trace_status(s, s.start_at) == "running");
  CHECK(session::trace_status(s, s.end_at) == "stopped");
  s.enable = false;
  CHECK(session::trace_status(s, s.start_at) == "stopped");
}

TEST_CASE("no trace: the tracer is inactive, and a running one matches its client only",
          "[trace]") {
  Fixture f;
  Tracer& t = f.traces->tracer();
  CHECK_FALSE(t.active());
  REQUIRE(f.traces->create(spec("c", TraceType::ClientId, "alice")).status == 200);
  REQUIRE(f.traces->create(spec("ip", TraceType::IpAddress, "10.0.0.9")).status == 200);
  REQUIRE(f.traces->create(spec("top", TraceType::Topic, "a/+")).status == 200);
  CHECK(t.active());

  Tracer::Cursor alice, bob, far;
  t.refresh(alice, "alice", "127.0.0.1");
  t.refresh(bob, "bob", "127.0.0.1");
  t.refresh(far, "bob", "10.0.0.9");
  CHECK(alice.mine != 0);
  CHECK(bob.mine == 0);
  CHECK(far.mine != 0);

  mqtt::Packet in = publish("a/b", "pay\"load");
  Tracer::packet(alice, {"alice", "127.0.0.1:1"}, true, in, mqtt::ProtocolVersion::V5);
  Tracer::packet(bob, {"bob", "127.0.0.1:2"}, true, in, mqtt::ProtocolVersion::V5);
  mqtt::Packet other = publish("x/y", "nope");
  Tracer::packet(bob, {"bob", "127.0.0.1:2"}, true, other, mqtt::ProtocolVersion::V5);

  const std::string by_client = slurp(f.traces->file_of("c"));
  CHECK(by_client.find("alice@127.0.0.1:1 msg: mqtt_packet_received, packet: PUBLISH(Q1, R0, "
                       "D0, Topic=a/b, PacketId=7, Payload=pay\"load)") != std::string::npos);
  CHECK(by_client.find("bob") == std::string::npos);
  const std::string by_topic = slurp(f.traces->file_of("top"));
  CHECK(by_topic.find("alice@") != std::string::npos);  // a/b matches a/+
  CHECK(by_topic.find("bob@") != std::string::npos);
  CHECK(by_topic.find("x/y") == std::string::npos);
  CHECK(slurp(f.traces->file_of("ip")).empty());

  // Stopped: the set changes, the client's cursor follows it.
  const auto g = t.generation();
  REQUIRE(f.traces->stop_trace("c"));
  CHECK(t.generation() != g);
  t.refresh(alice, "alice", "127.0.0.1");
  CHECK(alice.mine == 0);
  Tracer::packet(alice, {"alice", "127.0.0.1:1"}, true, in, mqtt::ProtocolVersion::V5);
  CHECK(slurp(f.traces->file_of("c")) == by_client);
  f.traces->clear();
  CHECK_FALSE(t.active());
  CHECK(f.traces->list().empty());
}

TEST_CASE("create refuses what EMQX refuses", "[trace]") {
  Fixture f;
  auto code = [&](const TraceSpec& s) { return f.traces->create(s).code; };
  TraceSpec past = spec("past", TraceType::ClientId, "c");
  past.start_at -= 3600;
  past.end_at = now_s() - 1;
  CHECK(code(past) == "INVALID_PARAMS");
  CHECK(code(spec("bad-topic", TraceType::Topic, "a/#/b")) == "INVALID_PARAMS");
  CHECK(code(spec("bad-ip", TraceType::IpAddress, "1.2.3")) == "INVALID_PARAMS");
  CHECK(code(spec("v6", TraceType::IpAddress, "::1")).empty());
  CHECK(code(spec("v6", TraceType::ClientId, "other")) == "ALREADY_EXISTS");
  CHECK(f.traces->create(spec("v6b", TraceType::IpAddress, "::1")).status == 409);
  for (int i = 0; i < 29; ++i) {
    CHECK(code(spec("t" + std::to_string(i), TraceType::ClientId, std::to_string(i))).empty());
  }
  CHECK(code(spec("t30", TraceType::ClientId, "x")) == "EXCEED_LIMIT");
  CHECK(f.traces->list().size() == TraceManager::kMaxTraces);
}

TEST_CASE("a trace file stops at its bound", "[trace]") {
  Fixture f(4096);
  REQUIRE(f.traces->create(spec("big", TraceType::ClientId, "c")).status == 200);
  Tracer::Cursor c;
  f.traces->tracer().refresh(c, "c", "127.0.0.1");
  const std::string payload(300, 'p');
  for (int i = 0; i < 50; ++i) {
    mqtt::Packet p = publish("a", payload);
    Tracer::packet(c, {"c", "127.0.0.1:1"}, true, p, mqtt::ProtocolVersion::V5);
  }
  const std::string text = slurp(f.traces->file_of("big"));
  CHECK(text.size() <= 4096);
  CHECK(text.ends_with("trace file reached trace.max_file_size: nothing more is written\n"));
  auto read = f.traces->read_trace_log("big", 10, 100);
  CHECK(read.found);
  CHECK(read.bytes == text.substr(10, 100));
  CHECK(read.size == text.size());
  CHECK_FALSE(f.traces->read_trace_log("nope", 0, 10).found);
}
