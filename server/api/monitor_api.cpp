#include "api/monitor_api.hpp"

#include <boost/json.hpp>
#include <memory>

#include "api/router.hpp"
#include "common/proc_stats.hpp"
#include "net/node_counters.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

constexpr std::chrono::seconds kNodeWait{5};

// The other running members' answers to `op`, parsed, asked at once; those that fail are
// left out.
std::vector<json::value> ask_peers(ClusterControl& control, const std::string& self,
                                   const std::string& op, const json::object& args) {
  std::vector<std::string> peers;
  for (auto& node : control.running_nodes()) {
    if (node != self) peers.push_back(std::move(node));
  }
  std::vector<json::value> out;
  for (const auto& a : ask_each(control, peers, op, json::serialize(args), kNodeWait)) {
    if (!a || a->status != 200) continue;
    boost::system::error_code ec;
    json::value v = json::parse(a->body, ec);
    if (!ec) out.push_back(std::move(v));
  }
  return out;
}

struct PromState {
  PromState(const session::NodeState& n, ClusterControl& c, MonitorContext o)
      : node(n), control(c), ops(std::move(o)) {}
  const session::NodeState& node;
  ClusterControl& control;
  MonitorContext ops;
  net::StatPeaks own_peaks;
  proc::CpuUse cpu;  // since the previous scrape, as EMQX's cpu_sup:util()
};

Response prometheus_stats(PromState& p, const Call& c) {
  auto mode_text = query_param(c.target, "mode");
  auto mode = prom::parse_mode(mode_text.value_or("node"));
  if (!mode) {
    return error_response(400, "BAD_REQUEST",
                          "mode must be node, all_nodes_aggregated or all_nodes_unaggregated");
  }
  std::vector<prom::NodeSample> samples{prom::local_sample(
      p.node, p.control, p.ops.peaks != nullptr ? *p.ops.peaks : p.own_peaks, p.cpu)};
  if (*mode != prom::Mode::Node) {
    for (const auto& v : ask_peers(p.control, p.node.config.node.name, "prom_sample", {})) {
      if (auto s = prom::sample_from_json(v)) samples.push_back(std::move(*s));
    }
  }
  // As EMQX: JSON when the client asks for it, the text format otherwise (Prometheus's
  // own Accept names text/plain and openmetrics, never JSON).
  if (c.request.accept.find("application/json") != std::string::npos) {
    return json_response(200, prom::render_json(samples, *mode));
  }
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = prom::render_text(samples, *mode);
  return r;
}

Response list_alarms(const session::NodeState& node, ClusterControl& control,
                     const MonitorContext& ops, const Call& c) {
  std::optional<bool> activated;
  if (auto a = query_param(c.target, "activated")) {
    if (*a != "true" && *a != "false") {
      return error_response(400, "BAD_REQUEST", "activated must be true or false");
    }
    activated = *a == "true";
  }
  std::size_t page = 0, limit = 0;
  if (auto r = paging(c.target, page, limit)) return std::move(*r);
  std::vector<json::object> all;
  if (ops.alarms != nullptr) {
    const auto now = Alarms::now_us();
    for (const auto& a : ops.alarms->list(activated))
      all.push_back(alarm_api_json(a, node.config.node.name, now));
  }
  json::object args;
  if (activated) args["activated"] = *activated;
  for (auto& v : ask_peers(control, node.config.node.name, "alarms", args)) {
    auto* data = v.is_object() ? v.as_object().if_contains("data") : nullptr;
    if (data == nullptr || !data->is_array()) continue;
    for (auto& o : data->as_array()) {
      if (o.is_object()) all.push_back(std::move(o.as_object()));
    }
  }
  json::array data;
  for (std::size_t i = (page - 1) * limit; i < all.size() && data.size() < limit; ++i)
    data.push_back(std::move(all[i]));
  return json_response(
      200, json::object{{"data", std::move(data)}, {"meta", page_meta(page, limit, all.size())}});
}

}  // namespace

void add_monitor_routes(RouteTable& t, const session::NodeState& node, ClusterControl& control,
                        MonitorContext ops) {
  auto p = std::make_shared<PromState>(node, control, ops);
  t.add("GET", "/api/v5/prometheus/stats", "the node's metrics for Prometheus",
        [p](const Call& c) { return prometheus_stats(*p, c); });
  t.add("GET", "/api/v5/alarms", "alarms (activated=true|false)",
        [&node, &control, ops](const Call& c) { return list_alarms(node, control, ops, c); });
  t.add("DELETE", "/api/v5/alarms", "forget the deactivated alarms of every node",
        [&node, &control, ops](const Call&) {
          if (ops.alarms != nullptr) ops.alarms->clear_deactivated();
          ask_peers(control, node.config.node.name, "alarms_clear", {});
          return no_content();
        });
}

}  // namespace emqxd::api
