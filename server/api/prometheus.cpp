#include "api/prometheus.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cmath>
#include <set>

#include "api/control.hpp"
#include "common/proc_stats.hpp"
#include "metrics/metrics.hpp"
#include "net/node_counters.hpp"
#include "session/node_state.hpp"

namespace emqxd::api::prom {

namespace json = boost::json;

namespace {

// An EMQX metric and where a node's value comes from: "stats:<name>" (net::node_stats),
// "metrics:<name>" (net::node_metrics), or "" (local_sample sets it itself).
struct Source {
  const char* name;
  Type type;
  Scope scope;
  const char* group;
  const char* from;
  const char* help;
};

constexpr Type C = Type::Counter;
constexpr Type G = Type::Gauge;
constexpr Scope N = Scope::Node;
constexpr Scope CL = Scope::Cluster;
constexpr Scope L = Scope::NodeLabeled;

// One line per metric, as long as it takes: the table reads better unwrapped.
// clang-format off
const Source kEmqx[] = {
    // stats (EMQX: emqx_stats)
    {"emqx_connections_count", G, N, "stats", "stats:connections.count", "MQTT connections open now"},
    {"emqx_connections_max", G, N, "stats", "stats:connections.max", "Highest emqx_connections_count seen since start"},
    {"emqx_live_connections_count", G, N, "stats", "stats:live_connections.count", "MQTT connections open now (emqxd: the same as emqx_connections_count)"},
    {"emqx_live_connections_max", G, N, "stats", "stats:live_connections.max", "Highest emqx_live_connections_count seen since start"},
    {"emqx_sessions_count", G, N, "stats", "stats:sessions.count", "Sessions, connected or not"},
    {"emqx_sessions_max", G, N, "stats", "stats:sessions.max", "Highest emqx_sessions_count seen since start"},
    {"emqx_topics_count", G, N, "stats", "stats:topics.count", "Distinct topic filters subscribed on this node"},
    {"emqx_topics_max", G, N, "stats", "stats:topics.max", "Highest emqx_topics_count seen since start"},
    {"emqx_suboptions_count", G, N, "stats", "stats:suboptions.count", "Subscriptions (one per client and filter)"},
    {"emqx_suboptions_max", G, N, "stats", "stats:suboptions.max", "Highest emqx_suboptions_count seen since start"},
    {"emqx_subscriptions_count", G, N, "stats", "stats:subscriptions.count", "Subscriptions (one per client and filter)"},
    {"emqx_subscriptions_max", G, N, "stats", "stats:subscriptions.max", "Highest emqx_subscriptions_count seen since start"},
    {"emqx_subscriptions_shared_count", G, N, "stats", "stats:subscriptions.shared.count", "Shared subscriptions ($share/...)"},
    {"emqx_subscriptions_shared_max", G, N, "stats", "stats:subscriptions.shared.max", "Highest emqx_subscriptions_shared_count seen since start"},
    {"emqx_delayed_count", G, N, "stats", "stats:delayed.count", "Delayed messages this node keeps ($delayed/...)"},
    {"emqx_delayed_max", G, N, "stats", "stats:delayed.max", "Highest emqx_delayed_count seen since start"},
    {"emqx_retained_count", G, CL, "stats", "stats:retained.count", "Retained messages (every node holds them all)"},
    {"emqx_retained_max", G, CL, "stats", "stats:retained.max", "Highest emqx_retained_count seen since start"},
    // the machine and the process (EMQX: emqx_vm_*; the standard process_*)
    {"emqx_vm_cpu_use", G, L, "metrics", "", "CPU use of the machine, percent, since the previous scrape"},
    {"emqx_vm_cpu_idle", G, L, "metrics", "", "CPU idle of the machine, percent, since the previous scrape"},
    {"emqx_vm_total_memory", G, L, "metrics", "", "Memory of the machine, bytes"},
    {"emqx_vm_used_memory", G, L, "metrics", "", "Memory of the machine in use (total - available), bytes"},
    {"process_cpu_seconds_total", C, L, "metrics", "", "User and system CPU time of emqxd, seconds"},
    {"process_resident_memory_bytes", G, L, "metrics", "", "Resident memory of emqxd, bytes"},
    {"process_virtual_memory_bytes", G, L, "metrics", "", "Virtual memory of emqxd, bytes"},
    {"process_open_fds", G, L, "metrics", "", "File descriptors emqxd has open"},
    {"process_max_fds", G, L, "metrics", "", "File descriptors emqxd may open (RLIMIT_NOFILE)"},
    {"process_start_time_seconds", G, L, "metrics", "", "When emqxd started, seconds since the epoch"},
    // cluster
    {"emqx_cluster_nodes_running", G, L, "cluster", "", "Cluster members this node sees running, itself included"},
    {"emqx_cluster_nodes_stopped", G, L, "cluster", "", "Cluster members this node sees stopped (dead)"},
    // bytes and packets
    {"emqx_bytes_received", C, N, "packets", "metrics:bytes.received", "Bytes received from MQTT clients"},
    {"emqx_bytes_sent", C, N, "packets", "metrics:bytes.sent", "Bytes sent to MQTT clients"},
    {"emqx_packets_received", C, N, "packets", "metrics:packets.received", "MQTT packets received"},
    {"emqx_packets_sent", C, N, "packets", "metrics:packets.sent", "MQTT packets sent"},
    // messages
    {"emqx_messages_received", C, N, "messages", "metrics:messages.received", "PUBLISH messages received from clients"},
    {"emqx_messages_sent", C, N, "messages", "metrics:messages.sent", "PUBLISH messages sent to clients"},
    {"emqx_messages_qos0_received", C, N, "messages", "metrics:messages.qos0.received", "QoS 0 messages received from clients"},
    {"emqx_messages_qos1_received", C, N, "messages", "metrics:messages.qos1.received", "QoS 1 messages received from clients"},
    {"emqx_messages_qos2_received", C, N, "messages", "metrics:messages.qos2.received", "QoS 2 messages received from clients"},
    {"emqx_messages_dropped", C, N, "messages", "metrics:messages.dropped", "Messages dropped, for any reason"},
    {"emqx_messages_dropped_no_subscribers", C, N, "messages", "metrics:messages.dropped.no_subscribers", "Messages dropped: no subscriber"},
    {"emqx_messages_forward", C, N, "messages", "", "Messages forwarded to other nodes"},
    {"emqx_messages_delayed", C, N, "messages", "metrics:messages.delayed", "Messages kept for delayed publish"},
    {"emqx_messages_retained", C, N, "messages", "metrics:messages.retained", "Retained messages received"},
    {"emqx_messages_delivered", C, N, "messages", "metrics:messages.delivered", "Messages handed to subscribers' sessions"},
    {"emqx_messages_acked", C, N, "messages", "metrics:messages.acked", "QoS 1 and 2 messages acknowledged by subscribers"},
    // delivery
    {"emqx_delivery_dropped", C, N, "delivery", "metrics:delivery.dropped", "Messages dropped on their way to a subscriber (the sum of the delivery_dropped_*)"},
    {"emqx_delivery_dropped_too_large", C, N, "delivery", "metrics:delivery.dropped.too_large", "Messages dropped: larger than the subscriber's maximum packet size"},
    {"emqx_delivery_dropped_qos0_msg", C, N, "delivery", "metrics:delivery.dropped.qos0_msg", "QoS 0 messages not queued for an offline session (mqueue_store_qos0 = false)"},
    {"emqx_delivery_dropped_queue_full", C, N, "delivery", "metrics:delivery.dropped.queue_full", "Messages dropped: the session's queue was full"},
    {"emqx_delivery_dropped_expired", C, N, "delivery", "metrics:delivery.dropped.expired", "Messages dropped: their Message Expiry Interval passed"},
    // client
    {"emqx_client_connected", C, N, "client", "metrics:client.connected", "Clients connected (CONNACK success)"},
    {"emqx_client_disconnected", C, N, "client", "metrics:client.disconnected", "Clients disconnected"},
    // session
    {"emqx_session_created", C, N, "session", "metrics:session.created", "Sessions created"},
    {"emqx_session_resumed", C, N, "session", "metrics:session.resumed", "Sessions resumed (Clean Start 0)"},
    {"emqx_session_takenover", C, N, "session", "metrics:session.takenover", "Sessions taken over by a new connection of the same client id"},
    {"emqx_session_discarded", C, N, "session", "metrics:session.discarded", "Sessions discarded (Clean Start 1 over an old one)"},
    // authorization (EMQX: acl)
    {"emqx_authorization_allow", C, N, "acl", "metrics:authorization.allow", "Authorization checks allowed"},
    {"emqx_authorization_deny", C, N, "acl", "metrics:authorization.deny", "Authorization checks denied"},
    {"emqx_authorization_cache_hit", C, N, "acl", "metrics:authorization.cache_hit", "Authorization decisions taken from the cache"},
    {"emqx_authorization_cache_miss", C, N, "acl", "metrics:authorization.cache_miss", "Authorization decisions not in the cache"},
    {"emqx_authorization_superuser", C, N, "acl", "metrics:authorization.superuser", "Authorization checks passed as superuser"},
    {"emqx_authorization_nomatch", C, N, "acl", "metrics:authorization.nomatch", "Authorization checks no source decided (no_match applied)"},
    {"emqx_authorization_matched_allow", C, N, "acl", "metrics:authorization.matched_allow", "Authorization checks a source allowed"},
    {"emqx_authorization_matched_deny", C, N, "acl", "metrics:authorization.matched_deny", "Authorization checks a source denied"},
    // authentication (EMQX: authn)
    {"emqx_authentication_failure", C, N, "authn", "metrics:authentication.failure", "Connections refused by authentication"},
};
// emqxd's own: the cluster's traffic (from ClusterControl::status).
const Source kCluster[] = {
    {"emqxd_cluster_forward_received", C, N, "emqxd", "", "Messages received from other nodes"},
    {"emqxd_cluster_forward_dropped", C, N, "emqxd", "", "Messages for other nodes dropped (a peer link's queue was full)"},
    {"emqxd_cluster_forward_queued", G, N, "emqxd", "", "Messages waiting in the links to other nodes"},
    {"emqxd_cluster_routes_remote", G, N, "emqxd", "", "Routes this node holds for other nodes"},
    {"emqxd_cluster_session_takeover_in", C, N, "emqxd", "", "Sessions taken over from other nodes"},
    {"emqxd_cluster_session_takeover_out", C, N, "emqxd", "", "Sessions handed over to other nodes"},
};
// clang-format on

MetricDef def(const Source& s) {
  return {s.name, s.type, s.scope, s.group, s.help};
}

// "messages.dropped.no_session" -> "emqxd_messages_dropped_no_session".
std::string own_name(std::string metric) {
  for (auto& c : metric)
    if (c == '.') c = '_';
  return "emqxd_" + metric;
}

// The node_metrics() names that kEmqx shows under EMQX's names; the rest get emqxd_ names.
std::set<std::string> shown_by_emqx() {
  std::set<std::string> out;
  for (const auto& s : kEmqx) {
    std::string_view from = s.from;
    if (from.starts_with("metrics:")) out.emplace(from.substr(8));
  }
  return out;
}

std::vector<std::string> own_counters() {
  static const std::set<std::string> emqx = shown_by_emqx();
  std::vector<std::string> out;
#define EMQXD_NAME(name)                         \
  if (!emqx.contains(net::metric_name(#name))) { \
    out.push_back(net::metric_name(#name));      \
  }
  EMQXD_COUNTERS(EMQXD_NAME)
#undef EMQXD_NAME
  return out;
}

// 12, 0.5, 1.5e+20: integers as integers, others as C++'s shortest round trip.
std::string number(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    return fmt::format("{}", static_cast<long long>(v));
  return fmt::format("{}", v);
}

// A label value escaped as the text format wants (backslash, quote, newline).
std::string label_value(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

const double* value_of(const NodeSample& s, const std::string& name) {
  auto it = s.values.find(name);
  return it == s.values.end() ? nullptr : &it->second;
}

// The points of one metric: (node label or "", value).
std::vector<std::pair<std::string, double>> points(const MetricDef& d,
                                                   const std::vector<NodeSample>& samples,
                                                   Mode mode) {
  std::vector<std::pair<std::string, double>> out;
  if (samples.empty()) return out;
  if (mode == Mode::Node || d.scope == Scope::Cluster) {
    if (const double* v = value_of(samples[0], d.name)) out.emplace_back("", *v);
    return out;
  }
  if (mode == Mode::AllNodesAggregated && d.scope == Scope::Node) {
    double sum = 0;
    bool any = false;
    for (const auto& s : samples) {
      if (const double* v = value_of(s, d.name)) {
        sum += *v;
        any = true;
      }
    }
    if (any) out.emplace_back("", sum);
    return out;
  }
  for (const auto& s : samples) {
    if (const double* v = value_of(s, d.name)) out.emplace_back(s.node, *v);
  }
  return out;
}

}  // namespace

const std::vector<MetricDef>& metric_defs() {
  static const std::vector<MetricDef> defs = [] {
    std::vector<MetricDef> out;
    for (const auto& s : kEmqx)
      out.push_back(def(s));
    for (const auto& s : kCluster)
      out.push_back(def(s));
    for (const auto& m : own_counters()) {
      std::string topic = m;
      std::replace(topic.begin(), topic.end(), '.', '/');
      out.push_back({own_name(m), Type::Counter, Scope::Node, "emqxd",
                     "emqxd's " + m + " (no EMQX name; $SYS metrics/" + topic + ")"});
    }
    return out;
  }();
  return defs;
}

json::object to_json(const NodeSample& s) {
  json::object values;
  for (const auto& [k, v] : s.values)
    values[k] = v;
  return json::object{{"node", s.node}, {"values", std::move(values)}};
}

std::optional<NodeSample> sample_from_json(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  const auto* node = o.if_contains("node");
  const auto* values = o.if_contains("values");
  if (node == nullptr || !node->is_string() || values == nullptr || !values->is_object()) {
    return std::nullopt;
  }
  NodeSample s;
  s.node = std::string(node->get_string());
  for (const auto& kv : values->get_object()) {
    if (kv.value().is_number()) s.values[std::string(kv.key())] = kv.value().to_number<double>();
  }
  return s;
}

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "node") return Mode::Node;
  if (text == "all_nodes_aggregated") return Mode::AllNodesAggregated;
  if (text == "all_nodes_unaggregated") return Mode::AllNodesUnaggregated;
  return std::nullopt;
}

std::string render_text(const std::vector<NodeSample>& samples, Mode mode) {
  std::string out;
  for (const auto& d : metric_defs()) {
    auto pts = points(d, samples, mode);
    if (pts.empty()) continue;
    out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", d.name, d.help, d.name,
                       d.type == Type::Counter ? "counter" : "gauge");
    for (const auto& [node, v] : pts) {
      if (node.empty()) {
        out += fmt::format("{} {}\n", d.name, number(v));
      } else {
        out += fmt::format("{}{{node=\"{}\"}} {}\n", d.name, label_value(node), number(v));
      }
    }
  }
  return out;
}

json::object render_json(const std::vector<NodeSample>& samples, Mode mode) {
  // EMQX's shape: one object per group; in all_nodes_unaggregated mode (and for the facts
  // of one node, outside node mode) an array of per-node objects, each with "node".
  std::map<std::string, json::object> single;
  std::map<std::string, std::map<std::string, json::object>> per_node;  // group -> node
  std::vector<std::string> order;
  const bool labelled = mode == Mode::AllNodesUnaggregated;
  for (const auto& d : metric_defs()) {
    if (std::find(order.begin(), order.end(), d.group) == order.end()) order.push_back(d.group);
    auto pts = points(d, samples, mode);
    for (const auto& [node, v] : pts) {
      json::value jv = v == std::floor(v) && std::fabs(v) < 1e15
                           ? json::value(static_cast<std::int64_t>(v))
                           : json::value(v);
      if (node.empty()) {
        single[d.group][d.name] = jv;
      } else {
        auto& o = per_node[d.group][node];
        o["node"] = node;
        o[d.name] = jv;
      }
    }
  }
  json::object out;
  for (const auto& g : order) {
    const bool array = labelled || (mode != Mode::Node && per_node.contains(g));
    if (!array) {
      out[g] = single.contains(g) ? single[g] : json::object{};
      continue;
    }
    json::array a;
    for (const auto& s : samples) {
      auto it = per_node[g].find(s.node);
      if (it == per_node[g].end()) continue;
      json::object o = it->second;
      for (const auto& kv : single[g])
        o[kv.key()] = kv.value();  // cluster-wide values, in every node's object
      a.push_back(std::move(o));
    }
    out[g] = std::move(a);
  }
  return out;
}

NodeSample local_sample(const session::NodeState& node, ClusterControl& control,
                        net::StatPeaks& peaks, proc::CpuUse& cpu) {
  NodeSample s;
  s.node = node.config.node.name;
  std::map<std::string, double> from;
  for (const auto& c : net::node_stats(node, &peaks))
    from["stats:" + c.name] = static_cast<double>(c.value);
  const auto metrics = net::node_metrics(node);
  for (const auto& c : metrics)
    from["metrics:" + c.name] = static_cast<double>(c.value);
  for (const auto& src : kEmqx) {
    if (*src.from == '\0') continue;
    if (auto it = from.find(src.from); it != from.end()) s.values[src.name] = it->second;
  }
  static const std::set<std::string> emqx = shown_by_emqx();
  for (const auto& c : metrics) {
    if (!emqx.contains(c.name) && c.name != "delivery.dropped") {
      s.values[own_name(c.name)] = static_cast<double>(c.value);
    }
  }

  // The cluster as this node sees it: itself and its live (or suspect) peers run.
  auto st = control.status();
  double running = 0, stopped = 0;
  for (const auto& m : st.members) {
    (m.self || m.state != "dead" ? running : stopped) += 1;
  }
  s.values["emqx_cluster_nodes_running"] = running;
  s.values["emqx_cluster_nodes_stopped"] = stopped;
  s.values["emqx_messages_forward"] = static_cast<double>(st.forward.sent);
  s.values["emqxd_cluster_forward_received"] = static_cast<double>(st.forward.received);
  s.values["emqxd_cluster_forward_dropped"] = static_cast<double>(st.forward.dropped);
  s.values["emqxd_cluster_forward_queued"] = static_cast<double>(st.forward.queued);
  s.values["emqxd_cluster_routes_remote"] = static_cast<double>(st.routes.remote);
  s.values["emqxd_cluster_session_takeover_in"] = static_cast<double>(st.sessions.takeovers_in);
  s.values["emqxd_cluster_session_takeover_out"] = static_cast<double>(st.sessions.takeovers_out);

  if (auto use = cpu.percent()) {
    s.values["emqx_vm_cpu_use"] = *use;
    s.values["emqx_vm_cpu_idle"] = 100.0 - *use;
  }
  if (auto mem = proc::system_memory()) {
    s.values["emqx_vm_total_memory"] = static_cast<double>(mem->total);
    s.values["emqx_vm_used_memory"] = static_cast<double>(mem->used());
  }
  s.values["process_cpu_seconds_total"] = proc::cpu_seconds();
  if (auto v = proc::resident_bytes()) s.values["process_resident_memory_bytes"] = *v;
  if (auto v = proc::virtual_bytes()) s.values["process_virtual_memory_bytes"] = *v;
  if (auto v = proc::open_fds()) s.values["process_open_fds"] = *v;
  if (auto v = proc::max_fds()) s.values["process_max_fds"] = *v;
  const auto up = std::chrono::steady_clock::now() - node.started;
  const auto start = std::chrono::system_clock::now() -
                     std::chrono::duration_cast<std::chrono::system_clock::duration>(up);
  s.values["process_start_time_seconds"] =
      std::floor(std::chrono::duration<double>(start.time_since_epoch()).count());
  return s;
}

}  // namespace emqxd::api::prom
