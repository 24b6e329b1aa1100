#include "api/connectors_api.hpp"

#include <boost/json.hpp>
#include <cctype>
#include <cmath>

#include "api/router.hpp"
#include "connectors/integrations.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;
using connectors::Action;
using connectors::Integrations;

namespace {

constexpr std::chrono::seconds kNodeWait{5};

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->get_string()) : std::string();
}

// "http:name" -> type, name; false when it is not an id.
bool split(const std::string& id, std::string& type, std::string& name) {
  auto tn = connectors::split_ref(id);
  if (!tn) return false;
  type = tn->first;
  name = tn->second;
  return true;
}

// The definition the API stores: the body without what the API adds (EMQX's
// filter_out_request_body).
std::string definition(json::object body) {
  for (auto* k : {"id", "type", "name", "status", "status_reason", "node_status", "node", "actions",
                  "metrics", "node_metrics", "rules", "error"})
    body.erase(k);
  return json::serialize(body);
}

NodeAnswer outcome(const Integrations::Result& r, int ok_status, const json::value& ok_body,
                   std::string_view what) {
  switch (r.outcome) {
    case Integrations::Outcome::Ok:
      return json_answer(ok_status, ok_body);
    case Integrations::Outcome::Exists:
      return error_answer(400, "ALREADY_EXISTS", r.message);
    case Integrations::Outcome::NotFound:
      return error_answer(404, "NOT_FOUND", std::string(what) + " not found");
    case Integrations::Outcome::Invalid:
    case Integrations::Outcome::InUse:
    case Integrations::Outcome::Full:
      return error_answer(400, "BAD_REQUEST", r.message);
  }
  return error_answer(500, "INTERNAL_ERROR", "?");
}

json::object sample_json(const Action::Sample& s) {
  json::object m;
  for (std::size_t i = 0; i < Action::kMetrics; ++i) {
    const auto metric = static_cast<Action::Metric>(i);
    if (metric == Action::RetriedSuccess || metric == Action::RetriedFailed) continue;
    m[Action::name(metric)] = s.count[i];
  }
  m["queuing"] = s.queuing;
  m["queuing_bytes"] = s.queuing_bytes;
  m["inflight"] = s.inflight;
  auto round2 = [](double v) { return std::round(v * 100) / 100; };
  m["rate"] = round2(s.rate);
  m["rate_max"] = round2(s.rate_max);
  m["rate_last5m"] = round2(s.rate_last5m);
  return m;
}

// One node's view: {"connectors": {id: {status, status_reason}}, "actions": {id: {status,
// status_reason, metrics?}}, "sources": {id: {status, status_reason}}}.
json::object node_view(const Integrations& in) {
  json::object cs, as, ss;
  for (const auto& c : in.connectors()) {
    cs[c.config.type + ":" + c.config.name] = json::object{
        {"status", connectors::status_name(c.status)}, {"status_reason", c.status_reason}};
  }
  for (const auto& a : in.actions()) {
    json::object o{{"status", connectors::status_name(a.status)},
                   {"status_reason", a.status_reason}};
    o["metrics"] = sample_json(a.sample.value_or(Action::Sample{}));
    as[a.config.type + ":" + a.config.name] = std::move(o);
  }
  for (const auto& x : in.sources()) {
    ss[x.config.type + ":" + x.config.name] = json::object{
        {"status", connectors::status_name(x.status)}, {"status_reason", x.status_reason}};
  }
  return json::object{
      {"connectors", std::move(cs)}, {"actions", std::move(as)}, {"sources", std::move(ss)}};
}

struct NodeViews {
  std::vector<std::string> nodes;
  std::vector<json::object> views;  // parallel; empty object: no answer
};

NodeViews ask_views(ClusterControl& control) {
  NodeViews v;
  v.nodes = control.running_nodes();
  auto answers = ask_each(control, v.nodes, "integrations_view", "{}", kNodeWait);
  for (auto& a : answers) {
    json::object o;
    if (a && a->status == 200) {
      boost::system::error_code ec;
      auto p = json::parse(a->body, ec);
      if (!ec && p.is_object()) o = std::move(p.get_object());
    }
    v.views.push_back(std::move(o));
  }
  return v;
}

// Secrets as "******" in what the API shows (EMQX's: a password or a token, at the top, in
// parameters or in authentication; the authorization and proxy-authorization headers). A PUT that
// sends them back so keeps the stored ones (connectors/integrations.cpp).
void mask_secrets(json::object& o) {
  auto headers = [](json::value* h) {
    if (h == nullptr || !h->is_object()) return;
    for (auto& kv : h->get_object()) {
      std::string k(kv.key());
      for (auto& ch : k)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (k == "authorization" || k == "proxy-authorization") kv.value() = "******";
    }
  };
  auto password = [](json::object& in) {
    for (const char* k : {"password", "token"}) {
      if (auto* p = in.if_contains(k)) *p = "******";
    }
  };
  headers(o.if_contains("headers"));
  password(o);
  for (const char* inner : {"parameters", "authentication"}) {  // authentication: kafka's
    if (auto* p = o.if_contains(inner); p != nullptr && p->is_object()) {
      headers(p->get_object().if_contains("headers"));
      password(p->get_object());
    }
  }
}

// The definition as written, with EMQX's added fields over the nodes' views.
json::object shown(const std::string& type, const std::string& name, const std::string& def,
                   const NodeViews& v, const char* kind) {
  boost::system::error_code ec;
  auto p = json::parse(def, ec);
  json::object o = !ec && p.is_object() ? std::move(p.get_object()) : json::object{};
  mask_secrets(o);
  o["type"] = type;
  o["name"] = name;
  json::array node_status;
  std::string status, reason;
  bool consistent = true;
  const std::string id = type + ":" + name;
  for (std::size_t i = 0; i < v.nodes.size(); ++i) {
    const auto* group = v.views[i].if_contains(kind);
    const auto* s = group != nullptr ? group->get_object().if_contains(id) : nullptr;
    if (s == nullptr) continue;
    const std::string st = str(s->get_object(), "status");
    const std::string re = str(s->get_object(), "status_reason");
    if (status.empty()) {
      status = st;
      reason = re;
    } else if (st != status) {
      consistent = false;
    }
    node_status.push_back(
        json::object{{"node", v.nodes[i]}, {"status", st}, {"status_reason", re}});
  }
  o["status"] = consistent ? (status.empty() ? "disconnected" : status) : "inconsistent";
  if (!reason.empty()) o["status_reason"] = reason;
  o["node_status"] = std::move(node_status);
  return o;
}

Response ask_self(ClusterControl& control, const std::string& self, const std::string& op,
                  const json::object& args) {
  auto a = control.ask(self, op, json::serialize(args), kNodeWait);
  if (!a) return error_response(503, "SERVICE_UNAVAILABLE", "the node did not answer");
  if (a->status == 204) return no_content();
  return relay(*a);
}

// The three kinds of definition as the API names them: "connector", "action", "source".
const char* group_of(std::string_view kind) {
  return kind == "connector" ? "connectors" : kind == "action" ? "actions" : "sources";
}
const char* noun_of(std::string_view kind) {
  return kind == "connector" ? "Connector" : kind == "action" ? "Bridge" : "Source";
}

// GET of one or all connectors, actions or sources: the definitions from this node, the
// status from every node.
Response show_all(ClusterControl& control, const std::string& self, const std::string& kind,
                  const std::optional<std::string>& id) {
  auto a = control.ask(self, "integrations_defs", "{}", kNodeWait);
  if (!a || a->status != 200) return error_response(503, "SERVICE_UNAVAILABLE", "no answer");
  auto defs = json::parse(a->body).get_object();
  const auto& list = defs.at(group_of(kind)).get_array();
  NodeViews v = ask_views(control);
  json::array out;
  for (const auto& d : list) {
    const auto& o = d.get_object();
    const std::string type = str(o, "type"), name = str(o, "name");
    if (id && *id != type + ":" + name) continue;
    json::object x = shown(type, name, str(o, "json"), v, group_of(kind));
    if (kind == "connector") x["actions"] = o.at("actions");
    out.push_back(std::move(x));
  }
  if (id) {
    if (out.empty()) {
      return error_response(
          404, "NOT_FOUND",
          std::string(noun_of(kind)) + " lookup failed: " + *id + " does not exist.");
    }
    return json_response(200, out.front());
  }
  return json_response(200, out);
}

Response metrics(ClusterControl& control, const std::string& id) {
  NodeViews v = ask_views(control);
  json::object sum;
  json::array per_node;
  bool found = false;
  for (std::size_t i = 0; i < v.nodes.size(); ++i) {
    const auto* as = v.views[i].if_contains("actions");
    const auto* a = as != nullptr ? as->get_object().if_contains(id) : nullptr;
    if (a == nullptr) continue;
    found = true;
    const auto& m = a->get_object().at("metrics").get_object();
    for (const auto& kv : m) {
      auto* have = sum.if_contains(kv.key());
      if (have == nullptr) {
        sum[kv.key()] = kv.value();
      } else if (have->is_double() || kv.value().is_double()) {
        *have = have->to_number<double>() + kv.value().to_number<double>();
      } else {
        *have = have->to_number<std::uint64_t>() + kv.value().to_number<std::uint64_t>();
      }
    }
    per_node.push_back(json::object{{"node", v.nodes[i]}, {"metrics", m}});
  }
  if (!found)
    return error_response(404, "NOT_FOUND", "Bridge lookup failed: " + id + " does not exist.");
  return json_response(200, json::object{{"metrics", std::move(sum)}, {"node_metrics", per_node}});
}

}  // namespace

void add_connectors_ops(NodeOps& ops, session::NodeState& node) {
  auto with_args = [&node](auto f) {
    return [&node, f = std::move(f)](const std::string& text) -> NodeAnswer {
      auto a = parse_object(text.empty() ? std::string_view("{}") : std::string_view(text));
      if (!a) return error_answer(400, "BAD_REQUEST", "arguments: a JSON object");
      if (!node.integrations) return error_answer(503, "SERVICE_UNAVAILABLE", "no integrations");
      return f(*node.integrations, *a);
    };
  };
  ops.add("integrations_view", with_args([](Integrations& in, const json::object&) {
            return json_answer(200, node_view(in));
          }));
  ops.add("integrations_defs", with_args([](Integrations& in, const json::object&) {
            json::array cs, as, ss;
            for (const auto& c : in.connectors()) {
              json::array names;
              for (const auto& n : c.actions)
                names.push_back(json::string(n));
              cs.push_back(json::object{{"type", c.config.type},
                                        {"name", c.config.name},
                                        {"json", c.config.json},
                                        {"actions", std::move(names)}});
            }
            for (const auto& a : in.actions()) {
              as.push_back(json::object{
                  {"type", a.config.type}, {"name", a.config.name}, {"json", a.config.json}});
            }
            for (const auto& x : in.sources()) {
              ss.push_back(json::object{
                  {"type", x.config.type}, {"name", x.config.name}, {"json", x.config.json}});
            }
            return json_answer(200, json::object{{"connectors", std::move(cs)},
                                                 {"actions", std::move(as)},
                                                 {"sources", std::move(ss)}});
          }));
  // {kind: "connector"|"action"|"source", op: "create"|"update"|"delete"|"enable", id,
  // body?, on?}
  ops.add("integrations_write", with_args([](Integrations& in, const json::object& a) {
            const std::string kind_name = str(a, "kind");
            const auto kind = kind_name == "connector" ? Integrations::Kind::Connector
                              : kind_name == "action"  ? Integrations::Kind::Action
                                                       : Integrations::Kind::Source;
            const std::string op = str(a, "op");
            std::string type, name;
            if (op == "create") {
              const auto& body = a.at("body").get_object();
              type = str(body, "type");
              name = str(body, "name");
              if (type.empty() || name.empty())
                return error_answer(400, "BAD_REQUEST", "type and name are required");
            } else if (!split(str(a, "id"), type, name)) {
              return error_answer(400, "BAD_REQUEST",
                                  "Invalid ID: " + str(a, "id") + " (expected <type>:<name>)");
            }
            const char* what = noun_of(kind_name);
            if (op == "delete") {
              auto r = kind == Integrations::Kind::Connector ? in.remove_connector(type, name)
                       : kind == Integrations::Kind::Action  ? in.remove_action(type, name)
                                                             : in.remove_source(type, name);
              return outcome(r, 204, json::object{}, what);
            }
            if (op == "enable") {
              auto r = in.set_enabled(kind, type, name, a.at("on").get_bool());
              return outcome(r, 204, json::object{}, what);
            }
            const std::string def = definition(a.at("body").get_object());
            const bool create = op == "create";
            auto r = kind == Integrations::Kind::Connector
                         ? in.put_connector(type, name, def, create)
                     : kind == Integrations::Kind::Action ? in.put_action(type, name, def, create)
                                                          : in.put_source(type, name, def, create);
            return outcome(r, op == "create" ? 201 : 200,
                           json::object{{"type", type}, {"name", name}}, what);
          }));
  ops.add("action_metrics_reset", with_args([](Integrations& in, const json::object& a) {
            std::string type, name;
            if (!split(str(a, "id"), type, name) || !in.reset_metrics(type, name))
              return error_answer(404, "NOT_FOUND", "action not found");
            return json_answer(200, json::object{});
          }));
  ops.add("connector_probe", with_args([](Integrations& in, const json::object& a) {
            const auto& body = a.at("body").get_object();
            auto why = in.probe_connector(str(body, "type"), str(body, "name"), definition(body));
            if (!why.empty()) return error_answer(400, "TEST_FAILED", why);
            return NodeAnswer{204, ""};
          }));
  ops.add("connector_check", with_args([](Integrations& in, const json::object& a) {
            std::string type, name;
            if (!split(str(a, "id"), type, name) || !in.check_now(type, name))
              return error_answer(400, "BAD_REQUEST", "Forbidden operation, connector not enabled");
            return json_answer(200, json::object{});
          }));
}

void add_connectors_routes(RouteTable& t, ClusterControl& control, const std::string& self) {
  for (const std::string kind : {"connector", "action", "source"}) {
    const std::string base = std::string("/api/v5/") + group_of(kind);
    auto write = [&control, self, kind](const std::string& op, json::object args) -> Response {
      args["kind"] = kind;
      args["op"] = op;
      return ask_self(control, self, "integrations_write", args);
    };
    t.add("GET", base, "every " + kind + ", with its status on each node",
          [&control, self, kind](const Call&) {
            return show_all(control, self, kind, std::nullopt);
          });
    t.add("POST", base, "a new " + kind + " on every node: {type, name, ...}",
          [&control, self, kind, write](const Call& c) {
            auto body = parse_object(c.request.body);
            if (!body) return bad_request("the body must be a JSON object");
            auto r = write("create", json::object{{"body", *body}});
            if (r.status != 201) return r;
            auto shown_now =
                show_all(control, self, kind, str(*body, "type") + ":" + str(*body, "name"));
            if (shown_now.status == 200) shown_now.status = 201;
            return shown_now;
          });
    t.add("GET", base + "/{id}", "one " + kind, [&control, self, kind](const Call& c) {
      return show_all(control, self, kind, c.params[0]);
    });
    t.add("PUT", base + "/{id}", "a new definition of a " + kind,
          [&control, self, kind, write](const Call& c) {
            auto body = parse_object(c.request.body);
            if (!body) return bad_request("the body must be a JSON object");
            auto r = write("update", json::object{{"id", c.params[0]}, {"body", *body}});
            if (r.status != 200) return r;
            return show_all(control, self, kind, c.params[0]);
          });
    t.add("DELETE", base + "/{id}", "delete a " + kind + " on every node", [write](const Call& c) {
      return write("delete", json::object{{"id", c.params[0]}});
    });
    for (const bool on : {true, false}) {
      t.add("PUT", base + "/{id}/enable/" + (on ? "true" : "false"),
            std::string(on ? "enable" : "disable") + " a " + kind, [write, on](const Call& c) {
              return write("enable", json::object{{"id", c.params[0]}, {"on", on}});
            });
    }
  }
  t.add("POST", "/api/v5/connectors/{id}/start", "check a connector's health now",
        [&control](const Call& c) {
          bool any = false;
          for (const auto& a :
               ask_each(control, control.running_nodes(), "connector_check",
                        json::serialize(json::object{{"id", c.params[0]}}), kNodeWait))
            any = any || (a && a->status == 200);
          if (!any)
            return error_response(400, "BAD_REQUEST", "Forbidden operation, connector not enabled");
          return no_content();
        });
  t.add("POST", "/api/v5/connectors_probe", "whether a connector would connect: {type, name, ...}",
        [&control, self](const Call& c) {
          auto body = parse_object(c.request.body);
          if (!body) return bad_request("the body must be a JSON object");
          auto a = control.ask(self, "connector_probe",
                               json::serialize(json::object{{"body", *body}}), kNodeWait);
          if (!a) return error_response(503, "SERVICE_UNAVAILABLE", "the node did not answer");
          if (a->status == 204) return no_content();
          return relay(*a);
        });
  t.add("GET", "/api/v5/actions/{id}/metrics", "an action's metrics, summed and per node",
        [&control](const Call& c) { return metrics(control, c.params[0]); });
  t.add("PUT", "/api/v5/actions/{id}/metrics/reset", "zero an action's metrics on every node",
        [&control](const Call& c) {
          bool found = false;
          for (const auto& a :
               ask_each(control, control.running_nodes(), "action_metrics_reset",
                        json::serialize(json::object{{"id", c.params[0]}}), kNodeWait))
            found = found || (a && a->status == 200);
          if (!found) return error_response(404, "NOT_FOUND", "action not found");
          return no_content();
        });
  t.add("GET", "/api/v5/action_types", "the action types emqxd runs", [](const Call&) {
    json::array types;
    for (const auto& name : config::connector_types())
      types.emplace_back(name);
    return json_response(200, types);
  });
  t.add("GET", "/api/v5/connector_types", "the connector types emqxd runs", [](const Call&) {
    json::array types;
    for (const auto& name : config::connector_types())
      types.emplace_back(name);
    return json_response(200, types);
  });
  t.add("GET", "/api/v5/source_types", "the source types emqxd runs",
        [](const Call&) { return json_response(200, json::array{"mqtt"}); });
}

}  // namespace emqxd::api
