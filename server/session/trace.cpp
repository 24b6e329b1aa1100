// Tracer and TraceFile: matching a client or a topic against the running traces, and the
// lines written for what matches (trace.hpp).
#include "session/trace.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <variant>

#include "broker/topic.hpp"
#include "common/json_text.hpp"

namespace emqxd::session {

namespace {

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

std::int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// 2026-12-04T18:00:00.123456+00:00 (UTC, as every node writes it the same way).
void append_time(std::int64_t us, std::string& out) {
  std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[48];
  int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld+00:00",
                        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                        tm.tm_sec, static_cast<long long>(us % 1'000'000));
  out.append(buf, static_cast<std::size_t>(n));
}

// A payload as the trace asks: text (cut at payload_limit with "..."), hex, or hidden.
std::string encode_payload(const TraceSpec& s, std::string_view payload) {
  if (s.payload_encode == "hidden") return "******";
  const bool cut = s.payload_limit != 0 && payload.size() > s.payload_limit;
  std::string_view shown = cut ? payload.substr(0, s.payload_limit) : payload;
  std::string out;
  if (s.payload_encode == "hex") {
    static constexpr char kHex[] = "0123456789ABCDEF";
    out.reserve(shown.size() * 2 + 3);
    for (unsigned char c : shown) {
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  } else {
    out.assign(shown);
  }
  if (cut) out += "...";
  return out;
}

int qos_of(mqtt::QoS q) {
  return static_cast<int>(q);
}

std::string reason_hex(mqtt::ReasonCode r) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02X", static_cast<unsigned>(r));
  return buf;
}

// EMQX's packet form: "PUBLISH(Q1, R0, D0, Topic=a/b, PacketId=1, Payload=...)". The
// payload is encoded per trace, so it is left to `payload` (appended by the caller).
std::string describe(const mqtt::Packet& p, mqtt::ProtocolVersion v, std::string_view& payload) {
  std::string s;
  auto num = [](auto n) { return std::to_string(n); };
  std::visit(
      Overloaded{
          [&](const mqtt::Connect& c) {
            s = "CONNECT(Q0, R0, D0, ClientId=" + c.client_id + ", ProtoName=" + c.protocol_name +
                ", ProtoVsn=" + num(static_cast<int>(c.version)) +
                ", CleanStart=" + (c.clean_start ? "true" : "false") +
                ", KeepAlive=" + num(c.keep_alive) +
                ", Username=" + (c.username ? *c.username : "undefined") +
                ", Password=" + (c.password ? "******" : "undefined");
            if (c.will) {
              s += ", Will(Q" + num(qos_of(c.will->qos)) + ", R" + num(c.will->retain ? 1 : 0) +
                   ", Topic=" + c.will->topic + ")";
            }
            s += ")";
          },
          [&](const mqtt::ConnAck& a) {
            s = "CONNACK(Q0, R0, D0, AckFlags=" + num(a.session_present ? 1 : 0) +
                ", ReasonCode=" + num(static_cast<int>(a.code)) + ")";
          },
          [&](const mqtt::Publish& pb) {
            s = "PUBLISH(Q" + num(qos_of(pb.qos)) + ", R" + num(pb.retain ? 1 : 0) + ", D" +
                num(pb.dup ? 1 : 0) + ", Topic=" + std::string(pb.topic) + ", PacketId=" +
                (pb.qos == mqtt::QoS::AtMostOnce ? "undefined" : num(pb.packet_id)) + ", Payload=";
            payload = pb.payload;
          },
          [&](const mqtt::PubAck& a) {
            s = "PUBACK(Q0, R0, D0, PacketId=" + num(a.packet_id) +
                ", ReasonCode=" + reason_hex(a.reason) + ")";
          },
          [&](const mqtt::PubRec& a) {
            s = "PUBREC(Q0, R0, D0, PacketId=" + num(a.packet_id) +
                ", ReasonCode=" + reason_hex(a.reason) + ")";
          },
          [&](const mqtt::PubRel& a) {
            s = "PUBREL(Q1, R0, D0, PacketId=" + num(a.packet_id) +
                ", ReasonCode=" + reason_hex(a.reason) + ")";
          },
          [&](const mqtt::PubComp& a) {
            s = "PUBCOMP(Q0, R0, D0, PacketId=" + num(a.packet_id) +
                ", ReasonCode=" + reason_hex(a.reason) + ")";
          },
          [&](const mqtt::Subscribe& sub) {
            s = "SUBSCRIBE(Q1, R0, D0, PacketId=" + num(sub.packet_id) + ", TopicFilters=[";
            bool first = true;
            for (const auto& f : sub.subscriptions) {
              if (!first) s += ", ";
              first = false;
              s += f.topic_filter + "(qos=" + num(qos_of(f.options.max_qos)) + ")";
            }
            s += "])";
          },
          [&](const mqtt::SubAck& a) {
            s = "SUBACK(Q0, R0, D0, PacketId=" + num(a.packet_id) + ", ReasonCodes=[";
            for (std::size_t i = 0; i < a.reason_codes.size(); ++i) {
              if (i != 0) s += ", ";
              s += reason_hex(a.reason_codes[i]);
            }
            s += "])";
          },
          [&](const mqtt::Unsubscribe& u) {
            s = "UNSUBSCRIBE(Q1, R0, D0, PacketId=" + num(u.packet_id) + ", TopicFilters=[";
            for (std::size_t i = 0; i < u.topic_filters.size(); ++i) {
              if (i != 0) s += ", ";
              s += u.topic_filters[i];
            }
            s += "])";
          },
          [&](const mqtt::UnsubAck& a) {
            s = "UNSUBACK(Q0, R0, D0, PacketId=" + num(a.packet_id) + ")";
          },
          [&](const mqtt::PingReq&) { s = "PINGREQ(Q0, R0, D0)"; },
          [&](const mqtt::PingResp&) { s = "PINGRESP(Q0, R0, D0)"; },
          [&](const mqtt::Disconnect& d) {
            s = "DISCONNECT(Q0, R0, D0, ReasonCode=" + reason_hex(d.reason) + ")";
          },
          [&](const mqtt::Auth& a) {
            s = "AUTH(Q0, R0, D0, ReasonCode=" + reason_hex(a.reason) + ")";
          },
          [&](const auto&) { s = "PACKET"; },
      },
      p);
  (void)v;
  return s;
}

// One line for `t`: text or json, with the message, the packet (or fields) and who.
void write_line(TraceFile& t, const TraceWho& who, std::string_view msg, const std::string* packet,
                std::string_view payload, bool has_payload,
                const std::vector<std::pair<std::string_view, std::string>>* fields) {
  const TraceSpec& s = t.spec();
  std::string line;
  line.reserve(160 + (packet != nullptr ? packet->size() : 0) + payload.size());
  const std::int64_t us = now_us();
  if (s.formatter == "json") {
    line += "{\"time\":";
    line += std::to_string(us);
    line += ",\"level\":\"debug\",\"clientid\":";
    json_text::append_quoted(who.client_id, line);
    line += ",\"peername\":";
    json_text::append_quoted(who.peer, line);
    line += ",\"msg\":";
    json_text::append_quoted(msg, line);
    if (packet != nullptr) {
      line += ",\"packet\":";
      std::string p = *packet;
      if (has_payload) {
        p += encode_payload(s, payload);
        p += ")";
      }
      json_text::append_quoted(p, line);
    }
    if (fields != nullptr) {
      for (const auto& [k, v] : *fields) {
        line += ',';
        json_text::append_quoted(k, line);
        line += ':';
        json_text::append_quoted(v, line);
      }
    }
    line += "}\n";
  } else {
    append_time(us, line);
    line += " [MQTT] ";
    line += who.client_id;
    line += '@';
    line += who.peer;
    line += " msg: ";
    line += msg;
    if (packet != nullptr) {
      line += ", packet: ";
      line += *packet;
      if (has_payload) {
        line += encode_payload(s, payload);
        line += ')';
      }
    }
    if (fields != nullptr) {
      for (const auto& [k, v] : *fields) {
        line += ", ";
        line += k;
        line += ": ";
        line += v;
      }
    }
    line += '\n';
  }
  t.write(line);
}

// Whether a topic trace's filter takes a subscription's filter: when it matches it as if
// it were a name ("a/#" takes a subscription to "a/+"), or when they are equal.
bool takes_filter(std::string_view trace_filter, std::string_view filter) {
  if (trace_filter == filter) return true;
  auto shared = broker::parse_shared(filter);
  if (shared && *shared) filter = (*shared)->filter;
  return broker::topic_matches(trace_filter, filter);
}

// Whether a topic trace takes `p`: a PUBLISH whose topic it matches (MQTT's matching), a
// SUBSCRIBE or UNSUBSCRIBE with a filter it takes; no other packet.
bool topic_trace_takes(std::string_view trace_filter, const mqtt::Packet& p) {
  if (const auto* pb = std::get_if<mqtt::Publish>(&p)) {
    return broker::topic_matches(trace_filter, pb->topic);
  }
  if (const auto* sub = std::get_if<mqtt::Subscribe>(&p)) {
    for (const auto& s : sub->subscriptions) {
      if (takes_filter(trace_filter, s.topic_filter)) return true;
    }
  } else if (const auto* u = std::get_if<mqtt::Unsubscribe>(&p)) {
    for (const auto& t : u->topic_filters) {
      if (takes_filter(trace_filter, t)) return true;
    }
  }
  return false;
}

}  // namespace

std::string_view trace_type_name(TraceType t) {
  switch (t) {
    case TraceType::ClientId:
      return "clientid";
    case TraceType::Topic:
      return "topic";
    case TraceType::IpAddress:
      return "ip_address";
  }
  return "clientid";
}

std::string_view trace_status(const TraceSpec& s, std::int64_t now_s) {
  if (!s.enable) return "stopped";
  if (now_s < s.start_at) return "waiting";
  if (now_s >= s.end_at) return "stopped";
  return "running";
}

// ---------------------------------------------------------------------------- TraceFile

TraceFile::TraceFile(TraceSpec spec, std::string path, std::uint64_t max_bytes)
    : spec_(std::move(spec)), path_(std::move(path)), max_bytes_(max_bytes) {
  // 0600 under the process umask: a trace holds payloads.
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd_ >= 0) {
    off_t end = ::lseek(fd_, 0, SEEK_END);
    size_ = end > 0 ? static_cast<std::uint64_t>(end) : 0;
    full_ = size_ >= max_bytes_;
  }
}

TraceFile::~TraceFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool TraceFile::write(std::string_view line) {
  std::lock_guard lock(mutex_);
  if (fd_ < 0 || full_) return false;
  if (size_ + line.size() > max_bytes_) {
    // The last line says why the file stops here (it fits: the bound leaves room for it
    // only when it can; otherwise the file simply ends).
    full_ = true;
    static constexpr std::string_view kFull =
        "trace file reached trace.max_file_size: nothing more is written\n";
    if (size_ + kFull.size() <= max_bytes_ && ::write(fd_, kFull.data(), kFull.size()) > 0) {
      size_ += kFull.size();
    }
    return false;
  }
  std::size_t done = 0;
  while (done < line.size()) {
    ssize_t n = ::write(fd_, line.data() + done, line.size() - done);
    if (n <= 0) {
      full_ = true;  // a full disk or an error: stop rather than retry per line
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  size_ += line.size();
  return true;
}

// ---------------------------------------------------------------------------- Tracer

std::shared_ptr<const TraceSet> Tracer::current() const {
  std::lock_guard lock(mutex_);
  return set_;
}

void Tracer::publish(std::shared_ptr<const TraceSet> set) {
  const bool any = set && (!set->by_client.empty() || !set->by_topic.empty());
  {
    std::lock_guard lock(mutex_);
    set_ = any ? std::move(set) : nullptr;
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  active_.store(any, std::memory_order_relaxed);
}

void Tracer::refresh(Cursor& c, std::string_view client_id, std::string_view host) const {
  const std::uint32_t g = generation();
  if (c.generation == g) return;
  c.generation = g;
  c.set = current();
  c.mine = 0;
  c.wants = false;
  if (!c.set) return;
  for (std::size_t i = 0; i < c.set->by_client.size() && i < 64; ++i) {
    const TraceSpec& s = c.set->by_client[i]->spec();
    const bool match = s.type == TraceType::ClientId ? (!client_id.empty() && s.filter == client_id)
                                                     : s.filter == host;
    if (match) c.mine |= std::uint64_t{1} << i;
  }
  c.wants = c.mine != 0 || !c.set->by_topic.empty();
}

void Tracer::packet(const Cursor& c, const TraceWho& who, bool in, const mqtt::Packet& p,
                    mqtt::ProtocolVersion v) {
  if (!c.set) return;
  const std::string_view msg = in ? "mqtt_packet_received" : "mqtt_packet_sent";
  std::optional<std::string> text;
  std::string_view payload;
  auto line = [&](TraceFile& t) {
    if (!text) text = describe(p, v, payload);
    write_line(t, who, msg, &*text, payload, std::holds_alternative<mqtt::Publish>(p), nullptr);
  };
  for (std::size_t i = 0; c.mine != 0 && i < c.set->by_client.size() && i < 64; ++i) {
    if (c.mine & (std::uint64_t{1} << i)) line(*c.set->by_client[i]);
  }
  for (const auto& t : c.set->by_topic) {
    if (topic_trace_takes(t->spec().filter, p)) line(*t);
  }
}

void Tracer::publish_out(const Cursor& c, const TraceWho& who, std::string_view topic,
                         std::string_view payload, int qos, bool retain, bool dup,
                         std::uint16_t packet_id) {
  if (!c.set) return;
  std::optional<std::string> text;
  auto line = [&](TraceFile& t) {
    if (!text) {
      text = "PUBLISH(Q" + std::to_string(qos) + ", R" + (retain ? "1" : "0") + ", D" +
             (dup ? "1" : "0") + ", Topic=" + std::string(topic) +
             ", PacketId=" + (qos == 0 ? std::string("undefined") : std::to_string(packet_id)) +
             ", Payload=";
    }
    write_line(t, who, "mqtt_packet_sent", &*text, payload, true, nullptr);
  };
  for (std::size_t i = 0; c.mine != 0 && i < c.set->by_client.size() && i < 64; ++i) {
    if (c.mine & (std::uint64_t{1} << i)) line(*c.set->by_client[i]);
  }
  for (const auto& t : c.set->by_topic) {
    if (broker::topic_matches(t->spec().filter, topic)) line(*t);
  }
}

void Tracer::event(const Cursor& c, const TraceWho& who, std::string_view msg,
                   const std::vector<std::pair<std::string_view, std::string>>& fields) {
  if (!c.set || c.mine == 0) return;
  for (std::size_t i = 0; i < c.set->by_client.size() && i < 64; ++i) {
    if (c.mine & (std::uint64_t{1} << i)) {
      write_line(*c.set->by_client[i], who, msg, nullptr, {}, false, &fields);
    }
  }
}

}  // namespace emqxd::session
