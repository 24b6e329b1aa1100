// The Prometheus renderer (api/prometheus.hpp): samples of several nodes in, the text
// format and EMQX's JSON out, in each of EMQX's three modes; and a sample's round trip
// through JSON, as it will travel between nodes.
#include "api/prometheus.hpp"

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace json = boost::json;
using emqxd::api::prom::Mode;
using emqxd::api::prom::NodeSample;

std::vector<NodeSample> three_nodes() {
  std::vector<NodeSample> s(3);
  const char* names[] = {"n1@h", "n2@h", "n3@h"};
  for (int i = 0; i < 3; ++i) {
    s[i].node = names[i];
    s[i].values["emqx_connections_count"] = 10 * (i + 1);          // per node: summed
    s[i].values["emqx_messages_received"] = 1000 + i;              // counter, per node
    s[i].values["emqx_retained_count"] = 7;                        // the same everywhere: once
    s[i].values["process_resident_memory_bytes"] = 1e6 * (i + 1);  // a node's own fact
    s[i].values["emqx_cluster_nodes_running"] = 3;
  }
  s[2].values.erase("emqx_messages_received");  // a node that cannot tell
  return s;
}

// The lines of `text` that are samples of `name` (no comments).
std::vector<std::string> lines_of(const std::string& text, const std::string& name) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(name + " ") || line.starts_with(name + "{")) out.push_back(line);
  }
  return out;
}

}  // namespace

TEST_CASE("node mode: this node's values, unlabelled, with HELP and TYPE", "[prometheus]") {
  auto text = emqxd::api::prom::render_text(three_nodes(), Mode::Node);
  CHECK(lines_of(text, "emqx_connections_count") ==
        std::vector<std::string>{"emqx_connections_count 10"});
  CHECK(lines_of(text, "emqx_messages_received") ==
        std::vector<std::string>{"emqx_messages_received 1000"});
  CHECK(lines_of(text, "process_resident_memory_bytes") ==
        std::vector<std::string>{"process_resident_memory_bytes 1000000"});
  CHECK(text.find("# TYPE emqx_connections_count gauge\n") != std::string::npos);
  CHECK(text.find("# TYPE emqx_messages_received counter\n") != std::string::npos);
  CHECK(text.find("# HELP emqx_messages_received ") != std::string::npos);
  // A family no sample has is left out, HELP and TYPE included.
  CHECK(text.find("emqx_sessions_count") == std::string::npos);
}

TEST_CASE("all_nodes_aggregated: sums per-node values, keeps node facts per node", "[prometheus]") {
  auto text = emqxd::api::prom::render_text(three_nodes(), Mode::AllNodesAggregated);
  CHECK(lines_of(text, "emqx_connections_count") ==
        std::vector<std::string>{"emqx_connections_count 60"});
  // n3 has none: the sum of those that have one.
  CHECK(lines_of(text, "emqx_messages_received") ==
        std::vector<std::string>{"emqx_messages_received 2001"});
  // Replicated: once, never 21.
  CHECK(lines_of(text, "emqx_retained_count") == std::vector<std::string>{"emqx_retained_count 7"});
  CHECK(lines_of(text, "process_resident_memory_bytes") ==
        std::vector<std::string>{"process_resident_memory_bytes{node=\"n1@h\"} 1000000",
                                 "process_resident_memory_bytes{node=\"n2@h\"} 2000000",
                                 "process_resident_memory_bytes{node=\"n3@h\"} 3000000"});
}

TEST_CASE("all_nodes_unaggregated: one sample per node, labelled", "[prometheus]") {
  auto text = emqxd::api::prom::render_text(three_nodes(), Mode::AllNodesUnaggregated);
  CHECK(lines_of(text, "emqx_connections_count") ==
        std::vector<std::string>{"emqx_connections_count{node=\"n1@h\"} 10",
                                 "emqx_connections_count{node=\"n2@h\"} 20",
                                 "emqx_connections_count{node=\"n3@h\"} 30"});
  CHECK(lines_of(text, "emqx_messages_received").size() == 2);
  CHECK(lines_of(text, "emqx_retained_count") == std::vector<std::string>{"emqx_retained_count 7"});
  // One HELP and TYPE per family, before its samples.
  auto help = text.find("# HELP emqx_connections_count");
  CHECK(help != std::string::npos);
  CHECK(text.find("# HELP emqx_connections_count", help + 1) == std::string::npos);
  CHECK(help < text.find("emqx_connections_count{"));
}

TEST_CASE("label values are escaped", "[prometheus]") {
  std::vector<NodeSample> s(1);
  s[0].node = "a\"b\\c";
  s[0].values["emqx_connections_count"] = 1;
  auto text = emqxd::api::prom::render_text(s, Mode::AllNodesUnaggregated);
  CHECK(lines_of(text, "emqx_connections_count") ==
        std::vector<std::string>{"emqx_connections_count{node=\"a\\\"b\\\\c\"} 1"});
}

TEST_CASE("JSON: EMQX's groups, objects or per-node arrays by mode", "[prometheus]") {
  auto node = emqxd::api::prom::render_json(three_nodes(), Mode::Node);
  CHECK(node.at("stats").as_object().at("emqx_connections_count").to_number<double>() == 10);
  CHECK(node.at("stats").as_object().at("emqx_retained_count").to_number<double>() == 7);
  CHECK(node.at("messages").as_object().at("emqx_messages_received").to_number<double>() == 1000);
  CHECK(node.at("metrics").is_object());

  auto agg = emqxd::api::prom::render_json(three_nodes(), Mode::AllNodesAggregated);
  CHECK(agg.at("stats").as_object().at("emqx_connections_count").to_number<double>() == 60);
  REQUIRE(agg.at("metrics").is_array());
  CHECK(agg.at("metrics").as_array().size() == 3);
  CHECK(agg.at("metrics").as_array()[1].as_object().at("node") == "n2@h");

  auto un = emqxd::api::prom::render_json(three_nodes(), Mode::AllNodesUnaggregated);
  REQUIRE(un.at("stats").is_array());
  const auto& stats = un.at("stats").as_array();
  REQUIRE(stats.size() == 3);
  CHECK(stats[2].as_object().at("node") == "n3@h");
  CHECK(stats[2].as_object().at("emqx_connections_count").to_number<double>() == 30);
  CHECK(stats[2].as_object().at("emqx_retained_count").to_number<double>() == 7);
}

TEST_CASE("a sample survives its JSON round trip", "[prometheus]") {
  auto s = three_nodes()[1];
  s.values["emqx_vm_cpu_use"] = 12.5;
  auto text = json::serialize(emqxd::api::prom::to_json(s));
  auto back = emqxd::api::prom::sample_from_json(json::parse(text));
  REQUIRE(back);
  CHECK(back->node == s.node);
  CHECK(back->values == s.values);
  CHECK_FALSE(emqxd::api::prom::sample_from_json(json::parse("[1]")));
  CHECK_FALSE(emqxd::api::prom::sample_from_json(json::parse("{\"node\": 1, \"values\": {}}")));
}

TEST_CASE("modes by EMQX's names", "[prometheus]") {
  using emqxd::api::prom::parse_mode;
  CHECK(parse_mode("node") == Mode::Node);
  CHECK(parse_mode("all_nodes_aggregated") == Mode::AllNodesAggregated);
  CHECK(parse_mode("all_nodes_unaggregated") == Mode::AllNodesUnaggregated);
  CHECK_FALSE(parse_mode("cluster"));
}

TEST_CASE("metric names are unique and valid, counters and gauges as EMQX", "[prometheus]") {
  std::set<std::string> seen;
  for (const auto& d : emqxd::api::prom::metric_defs()) {
    INFO(d.name);
    CHECK(seen.insert(d.name).second);
    CHECK(d.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos);
    if (d.name.starts_with("emqx_packets_") || d.name.starts_with("emqx_messages_") ||
        d.name.starts_with("emqx_bytes_")) {
      CHECK(d.type == emqxd::api::prom::Type::Counter);
    }
    if (d.name.ends_with("_count") || d.name.ends_with("_max")) {
      CHECK(d.type == emqxd::api::prom::Type::Gauge);
    }
  }
}
