#include "api/ops_api.hpp"

#include <boost/json.hpp>
#include <memory>

#include "api/router.hpp"
#include "common/proc_stats.hpp"
#include "net/node_counters.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

struct PromState {
  PromState(const session::NodeState& n, ClusterControl& c, OpsContext o)
      : node(n), control(c), ops(std::move(o)) {}
  const session::NodeState& node;
  ClusterControl& control;
  OpsContext ops;
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
  if (*mode != prom::Mode::Node && p.ops.peer_samples) {
    for (auto& s : p.ops.peer_samples())
      samples.push_back(std::move(s));
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

Response list_alarms(const session::NodeState& node, const OpsContext& ops, const Call& c) {
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
  if (ops.peer_alarms) {
    for (auto& o : ops.peer_alarms(activated))
      all.push_back(std::move(o));
  }
  json::array data;
  for (std::size_t i = (page - 1) * limit; i < all.size() && data.size() < limit; ++i)
    data.push_back(std::move(all[i]));
  return json_response(
      200, json::object{{"data", std::move(data)}, {"meta", page_meta(page, limit, all.size())}});
}

}  // namespace

void add_ops_routes(RouteTable& t, const session::NodeState& node, ClusterControl& control,
                    OpsContext ops) {
  auto p = std::make_shared<PromState>(node, control, ops);
  t.add("GET", "/api/v5/prometheus/stats", "the node's metrics for Prometheus",
        [p](const Call& c) { return prometheus_stats(*p, c); });
  t.add("GET", "/api/v5/alarms", "alarms (activated=true|false)",
        [&node, ops](const Call& c) { return list_alarms(node, ops, c); });
  t.add("DELETE", "/api/v5/alarms", "forget the deactivated alarms", [ops](const Call&) {
    if (ops.alarms != nullptr) ops.alarms->clear_deactivated();
    Response r;
    r.status = 204;
    return r;
  });
}

}  // namespace emqxd::api
