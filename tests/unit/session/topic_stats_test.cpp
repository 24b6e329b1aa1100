// TopicMetrics and SlowSubs (session/topic_metrics.hpp, session/slow_subs.hpp): what a
// worker's View finds, the bound of 512 topics, the replicated table that carries the
// registrations, and which latencies the slow subscriptions keep.
#include <catch2/catch.hpp>
#include <thread>

#include "session/slow_subs.hpp"
#include "session/topic_metrics.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::session::test {
namespace {

using std::chrono::milliseconds;

TEST_CASE("a View finds registered topics only, and sees registrations as they change") {
  TopicMetrics tm;
  TopicMetrics::View view(tm);
  CHECK(view.find("a/b") == nullptr);
  CHECK(tm.add("a/b") == TopicMetrics::Outcome::Ok);
  CHECK(tm.add("a/b") == TopicMetrics::Outcome::Exists);
  CHECK(tm.add("a/+") == TopicMetrics::Outcome::BadTopic);
  CHECK(tm.add("") == TopicMetrics::Outcome::BadTopic);
  auto* c = view.find("a/b");
  REQUIRE(c != nullptr);
  CHECK(view.find("a/c") == nullptr);
  c->in(mqtt::QoS::ExactlyOnce);
  c->out(mqtt::QoS::AtMostOnce);
  c->inc(TopicMetrics::Dropped);
  auto s = tm.samples(std::string("a/b"));
  REQUIRE(s.size() == 1);
  CHECK(s[0].count[TopicMetrics::In] == 1);
  CHECK(s[0].count[TopicMetrics::Qos2In] == 1);
  CHECK(s[0].count[TopicMetrics::Qos0Out] == 1);
  CHECK(s[0].count[TopicMetrics::Dropped] == 1);
  CHECK(TopicMetrics::name(TopicMetrics::Qos2In) == "messages.qos2.in");
  tm.tick();
  CHECK(tm.samples()[0].rate[TopicMetrics::In] == Approx(0.2));  // 1 in a 5 s average
  CHECK(tm.reset(std::string("a/b"), 42) == TopicMetrics::Outcome::Ok);
  CHECK(tm.samples()[0].count[TopicMetrics::In] == 0);
  CHECK(tm.samples()[0].reset_ms == 42);
  CHECK(tm.reset(std::string("x"), 42) == TopicMetrics::Outcome::NotFound);
  CHECK(tm.remove("a/b") == TopicMetrics::Outcome::Ok);
  CHECK(view.find("a/b") == nullptr);
  CHECK(tm.remove("a/b") == TopicMetrics::Outcome::NotFound);
}

TEST_CASE("at most 512 topics") {
  TopicMetrics tm;
  for (int i = 0; i < 512; ++i)
    REQUIRE(tm.add("t/" + std::to_string(i)) == TopicMetrics::Outcome::Ok);
  CHECK(tm.add("t/over") == TopicMetrics::Outcome::Full);
  CHECK(tm.remove("t/0") == TopicMetrics::Outcome::Ok);
  CHECK(tm.add("t/over") == TopicMetrics::Outcome::Ok);
}

TEST_CASE("registrations travel through the replicated table to another node") {
  tables::ReplicatedTables a(nullptr, "a@h"), b(nullptr, "b@h");
  std::vector<tables::Entry> sent;
  a.set_replicator(
      [&](std::vector<tables::Entry>&& e) { sent.insert(sent.end(), e.begin(), e.end()); });
  TopicMetrics ta, tb;
  ta.attach(a);
  tb.attach(b);
  a.load();
  b.load();
  TopicMetrics::View vb(tb);
  CHECK(ta.add("x/y") == TopicMetrics::Outcome::Ok);
  CHECK(tb.size() == 0);
  b.merge(std::move(sent));
  sent.clear();
  REQUIRE(vb.find("x/y") != nullptr);
  CHECK(tb.samples()[0].create_ms == ta.samples()[0].create_ms);
  CHECK(ta.remove("x/y") == TopicMetrics::Outcome::Ok);
  b.merge(std::move(sent));
  CHECK(vb.find("x/y") == nullptr);
}

TEST_CASE("a View is safe while another thread registers topics") {
  TopicMetrics tm;
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    TopicMetrics::View v(tm);
    while (!stop.load()) {
      if (auto* c = v.find("r/1")) c->inc(TopicMetrics::In);
    }
  });
  for (int i = 0; i < 200; ++i) {
    tm.add("r/1");
    tm.add("r/" + std::to_string(i + 2));
    tm.remove("r/1");
  }
  stop = true;
  reader.join();
  CHECK(tm.size() == 200);
}

SlowSubs::Settings on(std::uint32_t top_k = 3) {
  SlowSubs::Settings s;
  s.enable = true;
  s.threshold = milliseconds(100);
  s.top_k_num = top_k;
  return s;
}

TEST_CASE("slow subscriptions: above the threshold only, largest kept, top k, expiry") {
  SlowSubs slow(on(2));
  slow.completed(0, "c1", "t", milliseconds(50), milliseconds(50), 1000);  // 100: not above
  CHECK(slow.list(1000).empty());
  slow.completed(0, "c1", "t", milliseconds(150), milliseconds(0), 1000);
  slow.completed(1, "c2", "t", milliseconds(0), milliseconds(300), 1000);
  slow.completed(0, "c1", "t", milliseconds(120), milliseconds(0), 2000);  // smaller: no change
  auto l = slow.list(2000);
  REQUIRE(l.size() == 2);
  CHECK(l[0].clientid == "c2");
  CHECK(l[1].timespan == 150);
  CHECK(l[1].last_update_ms == 1000);
  // A larger one pushes the smallest out of a full shard; the node lists top_k of all.
  slow.completed(0, "c3", "t", milliseconds(500), milliseconds(0), 2000);
  slow.completed(0, "c4", "t", milliseconds(400), milliseconds(0), 2000);
  l = slow.list(2000);
  REQUIRE(l.size() == 2);
  CHECK(l[0].clientid == "c3");
  CHECK(l[1].clientid == "c4");
  // Not raised within expire_interval (300 s): gone.
  CHECK(slow.list(2000 + 300'000).empty());
}

TEST_CASE("stats_type picks the part of the latency") {
  auto s = on();
  s.stats_type = SlowSubs::Settings::StatsType::Internal;
  SlowSubs slow(s);
  slow.completed(0, "c", "t", milliseconds(10), milliseconds(900), 1);
  CHECK(slow.list(1).empty());
  s.stats_type = SlowSubs::Settings::StatsType::Response;
  slow.put(s);
  slow.completed(0, "c", "t", milliseconds(10), milliseconds(900), 1);
  REQUIRE(slow.list(1).size() == 1);
  CHECK(slow.list(1)[0].timespan == 900);
  s.enable = false;
  slow.put(s);
  CHECK_FALSE(slow.enabled());
  CHECK(slow.list(1).empty());  // switched off: forgotten
}

TEST_CASE("slow_subs settings as JSON, checked as the config file is") {
  std::string error;
  auto s = SlowSubs::from_json(
      R"({"enable":true,"threshold":"2s","expire_interval":"5m","top_k_num":7,"stats_type":"internal"})",
      SlowSubs::Settings{}, error);
  REQUIRE(s);
  CHECK(s->threshold == milliseconds(2000));
  CHECK(s->expire_interval == milliseconds(300'000));
  CHECK(
      SlowSubs::to_json(*s) ==
      R"({"enable":true,"threshold":"2s","expire_interval":"300s","top_k_num":7,"stats_type":"internal"})");
  CHECK_FALSE(SlowSubs::from_json(R"({"threshold":"99ms"})", {}, error));
  CHECK_FALSE(SlowSubs::from_json(R"({"top_k_num":1001})", {}, error));
  CHECK_FALSE(SlowSubs::from_json(R"({"enable":"yes"})", {}, error));
  CHECK_FALSE(SlowSubs::from_json(R"({"other":1})", {}, error));
  CHECK(error == "unknown field: other");
  CHECK_FALSE(SlowSubs::from_json("[1]", {}, error));
}

}  // namespace
}  // namespace emqxd::session::test
