#pragma once
// GET /api/v5/prometheus/stats: the node's counters in the Prometheus text exposition
// format (version 0.0.4), or as EMQX's JSON, with EMQX 5's metric names (emqx_prometheus),
// and the standard process_* metrics. docs/metrics.md lists them all.
//
// Two halves, so that the cluster-wide modes need nothing but a transport:
// - NodeSample: what one node measures, by metric name. local_sample() takes this node's;
//   to_json()/sample_from_json() carry one between nodes (NodeOps prom_sample, over Admin.Query).
// - render_text()/render_json(): samples (this node's first) and a mode in, the answer out:
//     node                    this node's values, no labels;
//     all_nodes_aggregated    the nodes' values summed, no labels;
//     all_nodes_unaggregated  one sample per node, labelled node="name@host".
//   Whatever the mode, a value every node holds the same (emqx_retained_count: retained
//   messages are replicated) comes once, from this node, unlabelled; and a node's own
//   facts (process_*, emqx_vm_*, emqx_cluster_nodes_*) are never summed: outside node mode
//   they are labelled with their node, as EMQX does.
// A metric a node cannot measure is absent from its sample (never a made-up 0); a family
// no sample has is left out whole.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace emqxd::session {
struct NodeState;
}
namespace emqxd::net {
class StatPeaks;
}
namespace emqxd::proc {
class CpuUse;
}

namespace emqxd::api {

class ClusterControl;

namespace prom {

enum class Type { Counter, Gauge };
enum class Scope {
  Node,        // each node's own share: summed when aggregated
  Cluster,     // the same on every node: taken from this node, once
  NodeLabeled  // a fact about one node: labelled with it outside node mode
};

struct MetricDef {
  std::string name;  // "emqx_connections_count"
  Type type;
  Scope scope;
  std::string group;  // EMQX's JSON group: stats, metrics, packets, messages, ...
  std::string help;
};

// Every metric the endpoint may emit, in output order: EMQX's, then emqxd's own
// (emqxd_*: counters EMQX has no name for).
const std::vector<MetricDef>& metric_defs();

struct NodeSample {
  std::string node;                      // name@host
  std::map<std::string, double> values;  // by metric name
};

// {"node": "...", "values": {"emqx_connections_count": 3, ...}}
boost::json::object to_json(const NodeSample& s);
// nullopt when `v` is not such an object; values that are not numbers are skipped.
std::optional<NodeSample> sample_from_json(const boost::json::value& v);

enum class Mode { Node, AllNodesAggregated, AllNodesUnaggregated };
// "node", "all_nodes_aggregated", "all_nodes_unaggregated".
std::optional<Mode> parse_mode(std::string_view text);

// `samples` non-empty, this node's first. In Node mode only samples[0] is read.
std::string render_text(const std::vector<NodeSample>& samples, Mode mode);
boost::json::object render_json(const std::vector<NodeSample>& samples, Mode mode);

// This node's sample: the node's counters (net/node_counters.hpp, with `peaks` for the
// *_max gauges), the cluster as `control` sees it, the machine and the process (`cpu`
// measures the machine's CPU since its previous reading). Any thread; may wait for the
// cluster thread (ClusterControl::status).
NodeSample local_sample(const session::NodeState& node, ClusterControl& control,
                        net::StatPeaks& peaks, proc::CpuUse& cpu);

}  // namespace prom
}  // namespace emqxd::api
