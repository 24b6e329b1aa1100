#include "report.hpp"

#include <algorithm>
#include <cstdio>

namespace emqxd::bench {
namespace {

// Appends printf output to `out`.
template <class... Args>
void add(std::string& out, const char* fmt, Args... args) {
  char buf[512];
  const int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out.append(buf, static_cast<std::size_t>(std::min<int>(n, sizeof buf - 1)));
}

double us(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e3;
}
double ms(std::uint64_t ns) {
  return static_cast<double>(ns) / 1e6;
}
unsigned long long ull(std::uint64_t v) {
  return static_cast<unsigned long long>(v);
}

}  // namespace

const char* to_string(Mode m) {
  switch (m) {
    case Mode::Conn:
      return "conn";
    case Mode::Pub:
      return "pub";
    case Mode::Sub:
      return "sub";
    case Mode::PubSub:
      return "pubsub";
  }
  return "?";
}

bool Summary::ok() const {
  if (conn_failed != 0 || conn_lost != 0 || sub_failed != 0 || not_connected != 0 ||
      protocol_errors != 0) {
    return false;
  }
  if (expect_no_loss) {
    if (lost > lost_qos0 || duplicated > duplicated_qos0 || pub_errors != 0) return false;
  }
  return true;
}

std::string format_ns(std::uint64_t ns) {
  char buf[32];
  if (ns < 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.1fus", us(ns));
  } else if (ns < 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.2fms", ms(ns));
  } else {
    std::snprintf(buf, sizeof buf, "%.2fs", static_cast<double>(ns) / 1e9);
  }
  return buf;
}

std::string to_json(const Summary& s) {
  std::string j = "{";
  add(j, "\"mode\":\"%s\",\"version\":%d,\"qos\":%d,\"sub_qos\":%d,\"size\":%u,", to_string(s.mode),
      s.version, s.qos, s.sub_qos, s.size);
  add(j, "\"threads\":%u,\"elapsed_s\":%.3f,\"stop\":\"%s\",", s.threads, s.elapsed_s,
      s.stop_reason.c_str());
  add(j, "\"publishers\":%u,\"subscribers\":%u,\"connections\":%u,\"connected\":%llu,",
      s.publishers, s.subscribers, s.connections, ull(s.connected));
  add(j, "\"conn_failed\":%llu,\"conn_lost\":%llu,\"sub_failed\":%llu,\"not_connected\":%llu,",
      ull(s.conn_failed), ull(s.conn_lost), ull(s.sub_failed), ull(s.not_connected));
  const auto& c = s.connect_latency;
  add(j, "\"connect_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},", ms(c.percentile(0.5)),
      ms(c.percentile(0.99)), ms(c.max()));
  add(j, "\"sent\":%llu,\"acked\":%llu,\"pub_errors\":%llu,\"unacked\":%llu,\"sent_rate\":%.1f,",
      ull(s.sent), ull(s.acked), ull(s.pub_errors), ull(s.unacked), s.sent_rate);
  add(j, "\"received\":%llu,\"recv_rate\":%.1f,\"foreign\":%llu,", ull(s.received), s.recv_rate,
      ull(s.foreign));
  const auto& l = s.latency;
  add(j, "\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f,\"mean\":%.1f},",
      us(l.percentile(0.5)), us(l.percentile(0.99)), us(l.percentile(0.999)), us(l.max()),
      l.mean() / 1e3);
  add(j, "\"negative_latency\":%llu,", ull(s.negative_latency));
  add(j, "\"tracked\":%s,\"streams\":%llu,\"lost\":%llu,\"duplicated\":%llu,",
      s.tracked ? "true" : "false", ull(s.streams), ull(s.lost), ull(s.duplicated));
  add(j, "\"out_of_order\":%llu,\"lost_qos0\":%llu,\"duplicated_qos0\":%llu,", ull(s.out_of_order),
      ull(s.lost_qos0), ull(s.duplicated_qos0));
  add(j, "\"protocol_errors\":%llu,\"ok\":%s}", ull(s.protocol_errors), s.ok() ? "true" : "false");
  return j;
}

std::string to_text(const Summary& s) {
  std::string t;
  add(t, "%s: %.2fs (%s), %u threads, MQTT v%d\n", to_string(s.mode), s.elapsed_s,
      s.stop_reason.c_str(), s.threads, s.version);
  add(t, "  connections  %llu/%u connected, %llu failed, %llu lost, %llu subscribe failed",
      ull(s.connected), s.connections, ull(s.conn_failed), ull(s.conn_lost), ull(s.sub_failed));
  if (s.connect_latency.count() > 0) {
    add(t, "; connect p50 %s p99 %s max %s", format_ns(s.connect_latency.percentile(0.5)).c_str(),
        format_ns(s.connect_latency.percentile(0.99)).c_str(),
        format_ns(s.connect_latency.max()).c_str());
  }
  t += '\n';
  if (s.not_connected > 0) {
    add(t, "  warning      %llu clients had not connected when the run ended\n",
        ull(s.not_connected));
  }
  if (s.publishers > 0) {
    add(t,
        "  published    %llu msgs at QoS %d, %u bytes, %.0f msgs/s; acked %llu, errors %llu,"
        " unacked %llu\n",
        ull(s.sent), s.qos, s.size, s.sent_rate, ull(s.acked), ull(s.pub_errors), ull(s.unacked));
  }
  if (s.subscribers > 0) {
    add(t, "  received     %llu msgs, %.0f msgs/s", ull(s.received), s.recv_rate);
    if (s.foreign > 0) add(t, ", %llu without a bench header", ull(s.foreign));
    t += '\n';
    const auto& l = s.latency;
    add(t, "  latency      p50 %s  p99 %s  p99.9 %s  max %s  mean %s\n",
        format_ns(l.percentile(0.5)).c_str(), format_ns(l.percentile(0.99)).c_str(),
        format_ns(l.percentile(0.999)).c_str(), format_ns(l.max()).c_str(),
        format_ns(static_cast<std::uint64_t>(l.mean())).c_str());
    if (s.negative_latency > 0) {
      add(t, "  warning      %llu messages were received before they were sent: clocks differ\n",
          ull(s.negative_latency));
    }
    if (s.tracked) {
      add(t, "  streams      %llu: lost %llu, duplicated %llu, out of order %llu", ull(s.streams),
          ull(s.lost), ull(s.duplicated), ull(s.out_of_order));
      if (s.lost_qos0 + s.duplicated_qos0 > 0) {
        add(t, " (at QoS 0: lost %llu, duplicated %llu)", ull(s.lost_qos0), ull(s.duplicated_qos0));
      }
      t += '\n';
    } else {
      t += "  streams      not tracked (shared subscription)\n";
    }
  }
  if (s.protocol_errors > 0) add(t, "  protocol errors %llu\n", ull(s.protocol_errors));
  add(t, "  result       %s\n", s.ok() ? "ok" : "FAILED");
  return t;
}

}  // namespace emqxd::bench
