#include "api/gateways_api.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "api/ops_api.hpp"
#include "api/router.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

constexpr std::chrono::seconds kNodeWait{5};

// EMQX's gateways, in its order; proto_name is what their clients show.
struct Known {
  std::string_view name, proto_name;
};
// EMQX's, and NanoMQ's ZeroMQ bridge (its one client is the bridge itself).
constexpr Known kGateways[] = {{"mqttsn", "MQTT-SN"}, {"stomp", "STOMP"},     {"coap", "CoAP"},
                               {"lwm2m", "LwM2M"},    {"exproto", "exproto"}, {"zmq", "ZeroMQ"},
                               {"nng", "NNG"}};

const Known* known(std::string_view name) {
  for (const auto& k : kGateways) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string seconds_text(config::Duration d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

// Each running member's "gateways" answer, by gateway name, merged: the first member's
// object, its listeners' connections summed and each member's view in node_status.
std::map<std::string, json::object> gateways_of(ClusterControl& control) {
  const auto nodes = control.running_nodes();
  const auto answers = ask_each(control, nodes, "gateways", "{}", kNodeWait);
  std::map<std::string, json::object> out;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!answers[i] || answers[i]->status != 200) continue;
    json::error_code ec;
    auto v = json::parse(answers[i]->body, ec);
    if (ec || !v.is_array()) continue;
    for (auto& item : v.as_array()) {
      if (!item.is_object() || !item.as_object().at("name").is_string()) continue;
      auto& g = item.as_object();
      const std::string name(g.at("name").as_string());
      auto [it, fresh] = out.emplace(name, g);
      auto& merged = it->second;
      if (fresh) {
        for (auto& l : merged["listeners"].as_array()) {
          auto& lo = l.as_object();
          lo["node_status"] = json::array();
          lo["current_connections"] = 0;
        }
        merged["current_connections"] = 0;
      }
      std::uint64_t node_total = 0;
      for (const auto& l : g.at("listeners").as_array()) {
        const auto& lo = l.as_object();
        const auto conns = lo.at("current_connections").to_number<std::uint64_t>();
        node_total += conns;
        for (auto& m : merged["listeners"].as_array()) {
          auto& mo = m.as_object();
          if (mo.at("id") != lo.at("id")) continue;
          mo["current_connections"] = mo["current_connections"].to_number<std::uint64_t>() + conns;
          mo["running"] = mo["running"].as_bool() && lo.at("running").as_bool();
          mo["node_status"].as_array().push_back(json::object{
              {"node", nodes[i]},
              {"status", json::object{{"running", lo.at("running")},
                                      {"current_connections", conns},
                                      {"max_connections", lo.at("max_connections")}}}});
        }
      }
      merged["current_connections"] =
          merged["current_connections"].to_number<std::uint64_t>() + node_total;
    }
  }
  return out;
}

// The summary GET /api/v5/gateways shows of a loaded gateway.
json::object summary(const json::object& g) {
  json::array listeners;
  for (const auto& l : g.at("listeners").as_array()) {
    const auto& lo = l.as_object();
    listeners.push_back(json::object{{"id", lo.at("id")},
                                     {"type", lo.at("type")},
                                     {"name", lo.at("name")},
                                     {"running", lo.at("running")}});
  }
  return json::object{{"name", g.at("name")},
                      {"status", g.at("status")},
                      {"current_connections", g.at("current_connections")},
                      {"max_connections", g.at("max_connections")},
                      {"listeners", std::move(listeners)}};
}

// The client `id` if it is a client of gateway `k`; nullopt (a 404) when not.
std::optional<NodeAnswer> gateway_client(ClusterControl& control, const Known& k,
                                         const std::string& id) {
  auto a = on_owner(control, "client", json::object{{"clientid", id}});
  if (!a || a->status != 200) return a;
  json::error_code ec;
  auto v = json::parse(a->body, ec);
  if (ec || !v.is_object() || v.as_object().if_contains("proto_name") == nullptr ||
      v.as_object().at("proto_name") != json::value(k.proto_name)) {
    return std::nullopt;
  }
  return a;
}

Response no_gateway(const std::string& name) {
  return error_response(404, "RESOURCE_NOT_FOUND", "no gateway " + name);
}

}  // namespace

void add_gateway_routes(RouteTable& t, ClusterControl& control) {
  ClusterControl* c = &control;
  t.add("GET", "/api/v5/gateways", "every gateway and its status", [c](const Call&) {
    auto loaded = gateways_of(*c);
    json::array out;
    for (const auto& k : kGateways) {
      auto it = loaded.find(std::string(k.name));
      if (it == loaded.end()) {
        out.push_back(json::object{{"name", k.name}, {"status", "unloaded"}});
      } else {
        out.push_back(summary(it->second));
      }
    }
    return json_response(200, out);
  });
  t.add(
      "GET", "/api/v5/gateways/{name}", "a gateway's configuration and status",
      [c](const Call& call) {
        if (known(call.params[0]) == nullptr) return no_gateway(call.params[0]);
        auto loaded = gateways_of(*c);
        auto it = loaded.find(call.params[0]);
        if (it == loaded.end()) {
          return json_response(200, json::object{{"name", call.params[0]}, {"status", "unloaded"}});
        }
        return json_response(200, it->second);
      });
  t.add("GET", "/api/v5/gateways/{name}/listeners", "a gateway's listeners on each node",
        [c](const Call& call) {
          if (known(call.params[0]) == nullptr) return no_gateway(call.params[0]);
          auto loaded = gateways_of(*c);
          auto it = loaded.find(call.params[0]);
          if (it == loaded.end()) return json_response(200, json::array());
          return json_response(200, it->second.at("listeners"));
        });
  t.add("GET", "/api/v5/gateways/{name}/clients", "a gateway's clients, EMQX's filters",
        [c](const Call& call) {
          const Known* k = known(call.params[0]);
          if (k == nullptr) return no_gateway(call.params[0]);
          std::size_t page = 1, limit = 0;
          if (auto bad = paging(call.target, page, limit)) return std::move(*bad);
          json::object args{{"proto_name", k->proto_name}};
          for (const char* key : {"clientid", "username"}) {
            if (auto v = query_param(call.target, key)) args[key] = json::array{json::value(*v)};
          }
          for (const char* key : {"like_clientid", "like_username", "ip_address", "conn_state"}) {
            if (auto v = query_param(call.target, key)) args[key] = *v;
          }
          std::vector<std::string> nodes = c->running_nodes();
          if (auto n = query_param(call.target, "node")) {
            if (std::find(nodes.begin(), nodes.end(), *n) == nodes.end()) {
              return error_response(404, "NOT_FOUND", "no running node " + *n);
            }
            nodes = {*n};
          }
          return paged(*c, nodes, "clients", std::move(args), page, limit);
        });
  t.add("GET", "/api/v5/gateways/{name}/clients/{clientid}", "one client of a gateway",
        [c](const Call& call) {
          const Known* k = known(call.params[0]);
          if (k == nullptr) return no_gateway(call.params[0]);
          auto a = gateway_client(*c, *k, call.params[1]);
          if (!a) return error_response(404, "CLIENTID_NOT_FOUND", "no such client");
          return relay(*a);
        });
  t.add("DELETE", "/api/v5/gateways/{name}/clients/{clientid}", "kick a client of a gateway",
        [c](const Call& call) {
          const Known* k = known(call.params[0]);
          if (k == nullptr) return no_gateway(call.params[0]);
          if (!gateway_client(*c, *k, call.params[1])) {
            return error_response(404, "CLIENTID_NOT_FOUND", "no such client");
          }
          auto a = on_owner(*c, "kick", json::object{{"clientid", call.params[1]}});
          if (!a) return error_response(404, "CLIENTID_NOT_FOUND", "no such client");
          return a->status == 200 ? no_content() : relay(*a);
        });
}

namespace {

// What every gateway's object has: status, connections, listeners, the common keys.
json::object gateway_object(std::string_view name, const config::GatewayCommonConfig& common,
                            const std::vector<GatewayListenerStatus>& running) {
  json::array listeners;
  std::uint64_t max = 0;
  bool any_running = false;
  for (const auto& l : running) {
    listeners.push_back(json::object{{"id", std::string(name) + ":" + l.type + ":" + l.name},
                                     {"type", l.type},
                                     {"name", l.name},
                                     {"bind", l.bind},
                                     {"running", l.running},
                                     {"current_connections", l.connections},
                                     {"max_connections", l.max_connections}});
    max += l.max_connections;
    any_running = any_running || l.running;
  }
  return json::object{{"name", name},
                      {"status", common.enable && any_running ? "running" : "stopped"},
                      {"enable", common.enable},
                      {"mountpoint", common.mountpoint},
                      {"idle_timeout", seconds_text(common.idle_timeout)},
                      {"enable_stats", true},
                      {"max_connections", max},
                      {"current_connections", 0},
                      {"listeners", std::move(listeners)}};
}

}  // namespace

void add_gateway_ops(
    NodeOps& ops, const config::Config& cfg,
    std::function<std::vector<GatewayListenerStatus>(std::string_view)> listeners) {
  ops.add("gateways", [&cfg, listeners = std::move(listeners)](const std::string&) {
    json::array out;
    if (const auto& sn = cfg.gateway_mqttsn; sn.common.configured) {
      auto g = gateway_object("mqttsn", sn.common, listeners("mqttsn"));
      json::array predefined;
      for (const auto& [id, topic] : sn.predefined)
        predefined.push_back(json::object{{"id", id}, {"topic", topic}});
      g["gateway_id"] = sn.gateway_id;
      g["broadcast"] = false;
      g["enable_qos3"] = sn.enable_qos3;
      g["subs_resume"] = false;
      g["predefined"] = std::move(predefined);
      out.push_back(std::move(g));
    }
    if (const auto& st = cfg.gateway_stomp; st.common.configured) {
      auto g = gateway_object("stomp", st.common, listeners("stomp"));
      g["frame"] = json::object{{"max_headers", st.max_headers},
                                {"max_headers_length", st.max_headers_length},
                                {"max_body_length", st.max_body_length}};
      out.push_back(std::move(g));
    }
    if (const auto& co = cfg.gateway_coap; co.common.configured) {
      auto g = gateway_object("coap", co.common, listeners("coap"));
      g["connection_required"] = co.connection_required;
      g["heartbeat"] = seconds_text(co.heartbeat);
      g["notify_type"] = co.notify_type;
      g["subscribe_qos"] = co.subscribe_qos;
      g["publish_qos"] = co.publish_qos;
      out.push_back(std::move(g));
    }
    if (const auto& lw = cfg.gateway_lwm2m; lw.common.configured) {
      auto g = gateway_object("lwm2m", lw.common, listeners("lwm2m"));
      g["xml_dir"] = lw.xml_dir;
      g["lifetime_min"] = seconds_text(lw.lifetime_min);
      g["lifetime_max"] = seconds_text(lw.lifetime_max);
      g["qmode_time_window"] = seconds_text(lw.qmode_time_window);
      if (lw.auto_observe_paths.empty()) {
        g["auto_observe"] = lw.auto_observe;
      } else {
        json::array paths;
        for (const auto& p : lw.auto_observe_paths)
          paths.emplace_back(p);
        g["auto_observe"] = std::move(paths);
      }
      g["update_msg_publish_condition"] = lw.update_msg_publish_condition;
      json::object translators;
      for (const auto& [name, t] : {std::pair{"command", &lw.command},
                                    {"response", &lw.response},
                                    {"notify", &lw.notify},
                                    {"register", &lw.reg},
                                    {"update", &lw.update}}) {
        translators[name] = json::object{{"topic", t->topic}, {"qos", t->qos}};
      }
      g["translators"] = std::move(translators);
      out.push_back(std::move(g));
    }
    if (!cfg.bridges_nng.empty()) {
      // NanoMQ's NNG bridges (bridges.nng.*), one listener each.
      config::GatewayCommonConfig common;
      common.enable = std::any_of(cfg.bridges_nng.begin(), cfg.bridges_nng.end(),
                                  [](const auto& b) { return b.enable; });
      auto g = gateway_object("nng", common, listeners("nng"));
      json::array bridges;
      for (const auto& b : cfg.bridges_nng) {
        json::array topics;
        for (const auto& t : b.topics)
          topics.push_back(json::object{{"local_topic", t.local_topic},
                                        {"remote_topic", t.remote_topic},
                                        {"nng_delimiter", t.delimiter},
                                        {"qos", t.qos}});
        json::object o{{"kind", b.kind}, {"name", b.name}, {"enable", b.enable}, {"url", b.url}};
        if (b.kind == "rep") {
          o["request_topic"] = b.request_topic;
          o["response_topic"] = b.response_topic;
          o["qos"] = b.qos;
          o["timeout"] = seconds_text(b.timeout);
        } else {
          o[b.kind == "pub" ? "forwards" : "subscription"] = std::move(topics);
        }
        bridges.push_back(std::move(o));
      }
      g["bridges"] = std::move(bridges);
      out.push_back(std::move(g));
    }
    if (const auto& z = cfg.gateway_zmq; z.configured) {
      config::GatewayCommonConfig common;
      common.enable = z.enable;
      auto g = gateway_object("zmq", common, listeners("zmq"));
      g["sub_address"] = z.sub_address;
      g["sub_pre"] = z.sub_pre;
      g["forward"] = z.forward;
      g["pub_address"] = z.pub_address;
      g["pub_pre"] = z.pub_pre;
      g["sub_topic"] = z.sub_topic;
      g["qos"] = z.qos;
      out.push_back(std::move(g));
    }
    return json_answer(200, out);
  });
}

}  // namespace emqxd::api
