#include "api/rebalance_api.hpp"

#include <boost/json.hpp>

#include "api/router.hpp"
#include "net/evacuation.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

constexpr std::chrono::seconds kNodeWait{5};

NodeAnswer bad(std::string message) {
  return json_answer(400, json::object{{"code", "BAD_REQUEST"}, {"message", std::move(message)}});
}

// EMQX's status object of an evacuation (without "node").
json::object status_json(const net::Evacuation::Status& s) {
  if (!s.active) return json::object{{"status", "disabled"}};
  return json::object{{"process", "evacuation"},
                      {"state", s.state},
                      {"connection_eviction_rate", s.options.conn_evict_rate},
                      {"session_eviction_rate", s.options.sess_evict_rate},
                      {"connection_goal", 0},
                      {"session_goal", 0},
                      {"session_recipients", json::array()},
                      {"stats", json::object{{"initial_connected", s.initial_connected},
                                             {"current_connected", s.current_connected},
                                             {"initial_sessions", s.initial_sessions},
                                             {"current_sessions", s.current_sessions}}}};
}

// The start request's fields (EMQX's), checked; an error message, or empty.
std::string read_options(const json::object& o, net::Evacuation::Options& out) {
  for (const auto& kv : o) {
    const std::string key(kv.key());
    const json::value& v = kv.value();
    auto positive = [&](std::uint64_t max) -> std::optional<std::uint64_t> {
      if (v.is_int64() && v.as_int64() >= 1 && static_cast<std::uint64_t>(v.as_int64()) <= max) {
        return static_cast<std::uint64_t>(v.as_int64());
      }
      if (v.is_uint64() && v.as_uint64() >= 1 && v.as_uint64() <= max) return v.as_uint64();
      return std::nullopt;
    };
    if (key == "conn_evict_rate" || key == "sess_evict_rate") {
      auto n = positive(1'000'000);
      if (!n) return key + " must be a whole number from 1 to 1000000";
      (key == "conn_evict_rate" ? out.conn_evict_rate : out.sess_evict_rate) =
          static_cast<std::uint32_t>(*n);
    } else if (key == "wait_takeover" || key == "wait_health_check") {
      std::optional<std::uint64_t> n;
      if (v.is_int64() && v.as_int64() == 0) n = 0;
      if (!n) n = positive(86'400);
      if (!n) return key + " must be a whole number of seconds from 0 to 86400";
      (key == "wait_takeover" ? out.wait_takeover : out.wait_health_check) =
          std::chrono::seconds(*n);
    } else if (key == "redirect_to") {
      if (!v.is_string()) return "redirect_to must be a string (host:port)";
      out.redirect_to = std::string(v.as_string());
    } else if (key == "migrate_to") {
      return "migrate_to is not supported: emqxd does not move a session without its client; "
             "sessions not taken over stay on the node";
    } else {
      return "unknown field " + key;
    }
  }
  return {};
}

Response ask_node(ClusterControl& control, const std::string& node, const std::string& op,
                  const std::string& args) {
  auto a = control.ask(node, op, args, kNodeWait);
  if (!a) return error_response(404, "NOT_FOUND", "no running node " + node);
  return relay(*a);
}

}  // namespace

void add_rebalance_ops(NodeOps& ops, net::Evacuation& evacuation) {
  ops.add("evacuation_start", [&evacuation](const std::string& args) {
    auto o = parse_object(args);
    if (!o) return bad("the body must be a JSON object");
    net::Evacuation::Options options;
    if (auto error = read_options(*o, options); !error.empty()) return bad(error);
    if (!evacuation.start(options)) return bad("already_started");
    return json_answer(200, json::object{});
  });
  ops.add("evacuation_stop", [&evacuation](const std::string&) {
    if (!evacuation.stop()) return bad("not_started");
    return json_answer(200, json::object{});
  });
  ops.add("evacuation_status", [&evacuation](const std::string&) {
    return json_answer(200, status_json(evacuation.status()));
  });
}

void add_rebalance_routes(RouteTable& t, ClusterControl& control, const session::NodeState& node) {
  const std::string self = node.config.node.name;
  t.add("POST", "/api/v5/load_rebalance/{node}/evacuation/start",
        "evacuate a node: refuse new clients, send its clients to the others",
        [&control](const Call& c) {
          return ask_node(control, c.params[0], "evacuation_start",
                          c.request.body.empty() ? "{}" : c.request.body);
        });
  t.add("POST", "/api/v5/load_rebalance/{node}/evacuation/stop",
        "end a node's evacuation: it takes clients again", [&control](const Call& c) {
          return ask_node(control, c.params[0], "evacuation_stop", "{}");
        });
  t.add(
      "GET", "/api/v5/load_rebalance/status", "this node's evacuation",
      [&control, self](const Call&) { return ask_node(control, self, "evacuation_status", "{}"); });
  t.add("GET", "/api/v5/load_rebalance/global_status", "the evacuations of every running node",
        [&control](const Call&) {
          const auto nodes = control.running_nodes();
          json::array evacuations;
          auto answers = ask_each(control, nodes, "evacuation_status", "{}", kNodeWait);
          for (std::size_t i = 0; i < nodes.size(); ++i) {
            if (!answers[i] || answers[i]->status != 200) continue;
            auto o = parse_object(answers[i]->body);
            if (!o || !o->contains("process")) continue;
            (*o)["node"] = nodes[i];
            evacuations.push_back(std::move(*o));
          }
          return json_response(200, json::object{{"evacuations", std::move(evacuations)},
                                                 {"rebalances", json::array()}});
        });
  t.add(
      "GET", "/api/v5/load_rebalance/availability_check",
      "200 while this node takes clients, 503 while it is evacuated",
      [&node](const Call&) {
        if (node.gate.closed()) {
          return error_response(503, "SERVICE_UNAVAILABLE", "the node is being evacuated");
        }
        return json_response(200, json::object{});
      },
      Access::Open);
}

}  // namespace emqxd::api
