#include "api/rules_api.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <random>

#include "api/router.hpp"
#include "broker/topic.hpp"
#include "common/time_text.hpp"
#include "connectors/integrations.hpp"
#include "mqtt/message.hpp"
#include "rules/eval.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;
using rules::RuleEngine;

namespace {

constexpr std::chrono::seconds kNodeWait{5};

const json::string* string_arg(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? &v->get_string() : nullptr;
}

json::object rule_json(const rules::Rule& r) {
  json::array from;
  for (const auto& f : r.statement->from)
    from.push_back(json::string(f));
  json::array actions;
  for (const auto& a : r.actions)
    actions.push_back(rules::action_json(a));
  return json::object{{"id", r.id},
                      {"name", r.name},
                      {"from", std::move(from)},
                      {"actions", std::move(actions)},
                      {"sql", r.sql},
                      {"enable", r.enable},
                      {"created_at", time_text::rfc3339_ms(r.created_at_ms)},
                      {"description", r.description}};
}

NodeAnswer not_found() {
  return error_answer(404, "NOT_FOUND", "Rule Id Not Found");
}

NodeAnswer invalid(const rules::RuleError& e) {
  return error_answer(400, "BAD_REQUEST", "Bad Arguments: " + e.field + ": " + e.message);
}

std::string hex_id() {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llX%016llX", static_cast<unsigned long long>(rng()),
                static_cast<unsigned long long>(rng()));
  return buf;
}

// EMQX's example columns of each event (emqx_rule_events:columns_with_exam), which the
// test's context overrides.
json::object example_columns(std::string_view event_type, const std::string& node) {
  const std::int64_t now = mqtt::wall_ms_now();
  json::object c;
  if (event_type == "message_publish") {
    c = json::object{{"event", "message.publish"},
                     {"id", hex_id()},
                     {"clientid", "c_emqx"},
                     {"username", "u_emqx"},
                     {"payload", "{\"msg\": \"hello\"}"},
                     {"peerhost", "192.168.0.10"},
                     {"topic", "t/a"},
                     {"qos", 1},
                     {"flags", json::object{}},
                     {"publish_received_at", now},
                     {"pub_props", json::object{{"Payload-Format-Indicator", 0},
                                                {"Message-Expiry-Interval", 30},
                                                {"User-Property", json::object{{"foo", "bar"}}}}}};
  } else if (event_type == "client_connected") {
    c = json::object{{"event", "client.connected"},
                     {"clientid", "c_emqx"},
                     {"username", "u_emqx"},
                     {"peername", "192.168.0.10:56431"},
                     {"sockport", 1883},
                     {"proto_name", "MQTT"},
                     {"proto_ver", 5},
                     {"keepalive", 60},
                     {"clean_start", true},
                     {"expiry_interval", 3600},
                     {"is_bridge", false},
                     {"conn_props", json::object{}},
                     {"connected_at", now}};
  } else if (event_type == "client_disconnected") {
    c = json::object{{"event", "client.disconnected"},
                     {"clientid", "c_emqx"},
                     {"username", "u_emqx"},
                     {"reason", "normal"},
                     {"peername", "192.168.0.10:56431"},
                     {"sockport", 1883},
                     {"proto_name", "MQTT"},
                     {"proto_ver", 5},
                     {"disconn_props", json::object{}},
                     {"connected_at", now},
                     {"disconnected_at", now}};
  } else if (event_type == "client_connack") {
    c = example_columns("client_connected", node);  // the same CONNECT's columns
    c.erase("is_bridge");
    c.erase("connected_at");
    c["event"] = "client.connack";
    c["reason_code"] = "success";
  } else if (event_type == "client_check_authz_complete") {
    c = json::object{{"event", "client.check_authz_complete"},
                     {"clientid", "c_emqx"},
                     {"username", "u_emqx"},
                     {"peerhost", "192.168.0.10"},
                     {"topic", "t/a"},
                     {"action", "publish"},
                     {"authz_source", "cache"},
                     {"result", "allow"}};
  } else if (event_type == "message_delivered" || event_type == "message_acked" ||
             event_type == "delivery_dropped") {
    c = example_columns("message_publish", node);  // the message's columns
    c["from_clientid"] = c["clientid"];
    c["from_username"] = c["username"];
    c["clientid"] = "c_emqx_2";
    c["username"] = "u_emqx_2";
    c["peername"] = "192.168.0.10:56431";
    c["event"] = event_type == "message_delivered" ? "message.delivered"
                 : event_type == "message_acked"   ? "message.acked"
                                                   : "delivery.dropped";
    if (event_type == "message_acked") c["puback_props"] = json::object{};
    if (event_type == "delivery_dropped") c["reason"] = "queue_full";
  } else if (event_type == "message_dropped") {
    c = example_columns("message_publish", node);
    c["event"] = "message.dropped";
    c["peername"] = "192.168.0.10:56431";
    c["reason"] = "no_subscribers";
  } else if (event_type == "session_subscribed" || event_type == "session_unsubscribed") {
    const bool sub = event_type == "session_subscribed";
    c = json::object{{"event", sub ? "session.subscribed" : "session.unsubscribed"},
                     {"clientid", "c_emqx"},
                     {"username", "u_emqx"},
                     {"peerhost", "192.168.0.10"},
                     {"topic", "t/a"}};
    if (sub) {
      c["qos"] = 1;
      c["sub_props"] = json::object{};
    } else {
      c["unsub_props"] = json::object{};
    }
  } else {
    return {};
  }
  c["timestamp"] = now;
  c["node"] = node;
  return c;
}

// GET /api/v5/rule_events: each event a rule may read.
json::array rule_events(const std::string& node) {
  struct Info {
    std::string_view type, source, title, sql;
  };
  static constexpr Info kInfo[] = {
      {"message_publish", "$events/message_publish", "message publish",
       "SELECT payload.msg as msg FROM \"t/#\" WHERE msg = 'hello'"},
      {"client_connected", "$events/client_connected", "client connected",
       "SELECT * FROM \"$events/client_connected\""},
      {"client_disconnected", "$events/client_disconnected", "client disconnected",
       "SELECT * FROM \"$events/client_disconnected\""},
      {"session_subscribed", "$events/session_subscribed", "session subscribed",
       "SELECT * FROM \"$events/session_subscribed\" WHERE topic =~ 't/#'"},
      {"session_unsubscribed", "$events/session_unsubscribed", "session unsubscribed",
       "SELECT * FROM \"$events/session_unsubscribed\" WHERE topic =~ 't/#'"},
      {"client_connack", "$events/client_connack", "client connack",
       "SELECT * FROM \"$events/client_connack\""},
      {"client_check_authz_complete", "$events/client_check_authz_complete",
       "client check authz complete", "SELECT * FROM \"$events/client_check_authz_complete\""},
      {"message_delivered", "$events/message_delivered", "message delivered",
       "SELECT * FROM \"$events/message_delivered\" WHERE topic =~ 't/#'"},
      {"message_acked", "$events/message_acked", "message acked",
       "SELECT * FROM \"$events/message_acked\" WHERE topic =~ 't/#'"},
      {"message_dropped", "$events/message_dropped", "message routing-drop",
       "SELECT * FROM \"$events/message_dropped\" WHERE topic =~ 't/#'"},
      {"delivery_dropped", "$events/delivery_dropped", "message delivery-drop",
       "SELECT * FROM \"$events/delivery_dropped\" WHERE topic =~ 't/#'"},
  };
  json::array out;
  for (const auto& i : kInfo) {
    json::array columns;
    json::object test_columns;
    for (const auto& kv : example_columns(i.type, node)) {
      columns.push_back(json::string(kv.key()));
      if (kv.key() == "clientid" || kv.key() == "username" || kv.key() == "topic" ||
          kv.key() == "payload" || kv.key() == "qos" || kv.key() == "reason" ||
          kv.key() == "reason_code" || kv.key() == "action" || kv.key() == "result") {
        test_columns[kv.key()] = kv.value();
      }
    }
    json::object title{{"en", i.title}};
    out.push_back(json::object{{"event", i.source},
                               {"title", title},
                               {"description", title},
                               {"columns", std::move(columns)},
                               {"test_columns", std::move(test_columns)},
                               {"sql_example", i.sql}});
  }
  return out;
}

Response rule_test(const Call& c, const std::string& node) {
  auto body = parse_object(c.request.body);
  if (!body) return bad_request("the body must be a JSON object {\"sql\", \"context\"}");
  const json::string* sql = string_arg(*body, "sql");
  if (sql == nullptr) return bad_request("Bad Arguments: sql: required");
  json::object context;
  if (const auto* v = body->if_contains("context")) {
    if (!v->is_object()) return bad_request("Bad Arguments: context: expected an object");
    context = v->get_object();
  }
  std::string type = "message_publish";
  if (const json::string* t = string_arg(context, "event_type")) type = std::string(*t);
  json::object columns = example_columns(type, node);
  if (columns.empty()) return bad_request("Bad Arguments: context.event_type: unknown " + type);
  for (const auto& kv : context)
    columns[kv.key()] = kv.value();
  auto parsed = rules::parse(*sql);
  if (auto* e = std::get_if<rules::SqlError>(&parsed))
    return bad_request("Bad Arguments: syntax error: " + e->message);
  const auto& st = std::get<rules::Statement>(parsed);
  // The event's topic: the message's for a publish, else the event's own.
  std::string in_topic = "$events/" + type;
  if (type == "message_publish") {
    const auto* t = columns.if_contains("topic");
    in_topic = t != nullptr && t->is_string() ? std::string(t->get_string()) : "";
  }
  if (!rules::matches_from(st, in_topic)) return error_response(412, "NOT_MATCH", "SQL Not Match");
  std::string error;
  auto outputs = rules::run(st, columns, error);
  if (!error.empty()) {
    return bad_request(json::serialize(json::object{{"select_and_transform_error", error}}));
  }
  if (st.foreach) {
    json::array a;
    for (auto& o : outputs)
      a.push_back(std::move(o));
    return json_response(200, a);
  }
  if (outputs.empty()) return error_response(412, "NOT_MATCH", "SQL Not Match");
  return json_response(200, outputs.front());
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

// GET /api/v5/rules: EMQX's filters over this node's copy of the rules (the cluster's).
Response list_rules(const Call& c, ClusterControl& control, const std::string& self) {
  std::size_t page = 1, limit = 0;
  if (auto bad = paging(c.target, page, limit)) return *bad;
  if (!query_param(c.target, "limit")) limit = Router::kMaxLimit;  // EMQX's default here
  auto a = control.ask(self, "rules_list", "{}", kNodeWait);
  if (!a) return error_response(503, "SERVICE_UNAVAILABLE", "the node did not answer");
  boost::system::error_code ec;
  auto all = json::parse(a->body, ec);
  if (ec || !all.is_array()) return error_response(500, "INTERNAL_ERROR", "bad answer");
  const auto enable = query_param(c.target, "enable");
  if (enable && *enable != "true" && *enable != "false")
    return bad_request("enable must be true or false");
  const auto from = query_param(c.target, "from");
  const auto like_id = query_param(c.target, "like_id");
  const auto like_from = query_param(c.target, "like_from");
  const auto match_from = query_param(c.target, "match_from");
  const auto like_description = query_param(c.target, "like_description");
  const bool filtered = from || like_id || like_from || match_from || like_description;
  json::array kept;
  for (auto& v : all.get_array()) {
    const auto& r = v.get_object();
    if (enable && r.at("enable").get_bool() != (*enable == "true")) continue;
    const auto& froms = r.at("from").get_array();
    auto any_from = [&](auto pred) {
      for (const auto& f : froms) {
        if (pred(std::string_view(f.get_string()))) return true;
      }
      return false;
    };
    if (from && !any_from([&](std::string_view f) { return f == *from; })) continue;
    if (like_id && !contains(r.at("id").get_string(), *like_id)) continue;
    if (like_description && !contains(r.at("description").get_string(), *like_description))
      continue;
    if (like_from && !any_from([&](std::string_view f) { return contains(f, *like_from); }))
      continue;
    if (match_from &&
        !any_from([&](std::string_view f) { return broker::topic_matches(*match_from, f); }))
      continue;
    kept.push_back(std::move(v));
  }
  json::array data;
  const std::size_t first = (page - 1) * limit;
  for (std::size_t i = first; i < kept.size() && i < first + limit; ++i)
    data.push_back(kept[i]);
  auto meta = page_meta(page, limit, kept.size());
  if (filtered) meta.erase("count");  // EMQX counts only unfiltered (or enable) lists
  return json_response(200, json::object{{"data", std::move(data)}, {"meta", std::move(meta)}});
}

// The metrics of rule `id` summed over the running nodes, and each node's.
Response rule_metrics(ClusterControl& control, const std::string& id) {
  const auto nodes = control.running_nodes();
  const std::string args = json::serialize(json::object{{"id", id}});
  auto answers = ask_each(control, nodes, "rule_metrics", args, kNodeWait);
  json::object sum;
  json::array per_node;
  bool found = false;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!answers[i] || answers[i]->status != 200) continue;
    boost::system::error_code ec;
    auto v = json::parse(answers[i]->body, ec);
    if (ec || !v.is_object()) continue;
    found = true;
    auto& m = v.get_object();
    for (const auto& kv : m) {
      auto* have = sum.if_contains(kv.key());
      if (have == nullptr) {
        sum[kv.key()] = kv.value();
      } else if (have->is_double() || kv.value().is_double()) {
        *have =
            std::round((have->to_number<double>() + kv.value().to_number<double>()) * 100) / 100;
      } else {
        *have = have->to_number<std::uint64_t>() + kv.value().to_number<std::uint64_t>();
      }
    }
    per_node.push_back(json::object{{"node", nodes[i]}, {"metrics", std::move(m)}});
  }
  if (!found) return error_response(404, "NOT_FOUND", "Rule Id Not Found");
  return json_response(
      200, json::object{{"id", id}, {"metrics", std::move(sum)}, {"node_metrics", per_node}});
}

// GET /api/v5/prometheus/data_integration: EMQX's names (emqx_prometheus_data_integration).
// Each node answers "rules_prom" with {"rules": [{"id", "enable", "metrics": {...}}]}.
Response data_integration(const Call& c, ClusterControl& control, const std::string& self) {
  const std::string mode = query_param(c.target, "mode").value_or("node");
  if (mode != "node" && mode != "all_nodes_aggregated" && mode != "all_nodes_unaggregated") {
    return error_response(400, "BAD_REQUEST",
                          "mode must be node, all_nodes_aggregated or all_nodes_unaggregated");
  }
  std::vector<std::string> nodes{self};
  if (mode != "node") nodes = control.running_nodes();
  auto answers = ask_each(control, nodes, "rules_prom", "{}", kNodeWait);
  struct Row {
    std::string id, node;
    double enable = 0;
    json::object metrics;
  };
  std::vector<Row> rows;  // per rule (summed), or per rule and node (unaggregated)
  std::size_t count = 0, actions = 0, connectors = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!answers[i] || answers[i]->status != 200) continue;
    boost::system::error_code ec;
    auto v = json::parse(answers[i]->body, ec);
    if (ec || !v.is_object() || !v.get_object().contains("rules")) continue;
    const auto& rules = v.get_object().at("rules").get_array();
    count = std::max(count, rules.size());
    if (const auto* n = v.get_object().if_contains("actions"); n != nullptr && n->is_number())
      actions = std::max(actions, n->to_number<std::size_t>());
    if (const auto* n = v.get_object().if_contains("connectors"); n != nullptr && n->is_number())
      connectors = std::max(connectors, n->to_number<std::size_t>());
    for (const auto& rv : rules) {
      const auto& r = rv.get_object();
      Row row{std::string(r.at("id").get_string()), nodes[i], r.at("enable").get_bool() ? 1.0 : 0.0,
              r.at("metrics").get_object()};
      if (mode == "all_nodes_aggregated") {
        auto it =
            std::find_if(rows.begin(), rows.end(), [&](const Row& x) { return x.id == row.id; });
        if (it != rows.end()) {
          it->enable = it->enable > 0 && row.enable > 0 ? 1 : 0;  // EMQX: 1 iff all
          for (const auto& kv : row.metrics) {
            auto* have = it->metrics.if_contains(kv.key());
            if (have != nullptr) *have = have->to_number<double>() + kv.value().to_number<double>();
          }
          continue;
        }
      }
      rows.push_back(std::move(row));
    }
  }
  static constexpr std::pair<std::string_view, std::string_view> kCounters[] = {
      {"emqx_rule_matched", "matched"},
      {"emqx_rule_failed", "failed"},
      {"emqx_rule_passed", "passed"},
      {"emqx_rule_failed_exception", "failed.exception"},
      {"emqx_rule_failed_no_result", "failed.no_result"},
      {"emqx_rule_actions_total", "actions.total"},
      {"emqx_rule_actions_success", "actions.success"},
      {"emqx_rule_actions_failed", "actions.failed"},
      {"emqx_rule_actions_failed_out_of_service", "actions.failed.out_of_service"},
      {"emqx_rule_actions_failed_unknown", "actions.failed.unknown"},
  };
  const bool labelled = mode == "all_nodes_unaggregated";
  auto labels = [&](const Row& r) {
    std::string l = "{id=\"" + r.id + "\"";
    if (labelled) l += ",node=\"" + r.node + "\"";
    return l + "}";
  };
  auto number = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return std::string(buf);
  };
  if (c.request.accept.find("application/json") != std::string::npos) {
    json::array rules;
    for (const auto& r : rows) {
      json::object o{{"id", r.id}, {"emqx_rule_enable", r.enable}};
      if (labelled) o["node"] = r.node;
      for (const auto& [name, key] : kCounters)
        o[name] = r.metrics.contains(key) ? r.metrics.at(key) : json::value(0);
      rules.push_back(std::move(o));
    }
    return json_response(
        200, json::object{{"data_integration_overview", json::object{{"emqx_rules_count", count},
                                                                     {"emqx_actions_count", 0},
                                                                     {"emqx_connectors_count", 0}}},
                          {"rules", std::move(rules)},
                          {"actions", json::array()},
                          {"connectors", json::array()}});
  }
  std::string out;
  auto gauge = [&](std::string_view name, double v) {
    out.append("# TYPE ").append(name).append(" gauge\n");
    out.append(name).append(" ").append(number(v)).append("\n");
  };
  gauge("emqx_rules_count", static_cast<double>(count));
  gauge("emqx_actions_count", static_cast<double>(actions));
  gauge("emqx_connectors_count", static_cast<double>(connectors));
  if (!rows.empty()) {
    out += "# TYPE emqx_rule_enable gauge\n";
    for (const auto& r : rows)
      out.append("emqx_rule_enable").append(labels(r)).append(" ").append(number(r.enable)) += '\n';
    for (const auto& [name, key] : kCounters) {
      out.append("# TYPE ").append(name).append(" counter\n");
      for (const auto& r : rows) {
        const auto* v = r.metrics.if_contains(key);
        out.append(name).append(labels(r)).append(" ").append(
            number(v != nullptr ? v->to_number<double>() : 0)) += '\n';
      }
    }
  }
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = std::move(out);
  return r;
}

}  // namespace

void add_rules_ops(NodeOps& ops, session::NodeState& node) {
  RuleEngine& e = node.rules;
  auto with_args = [](auto f) {
    return [f = std::move(f)](const std::string& text) -> NodeAnswer {
      auto a = parse_object(text.empty() ? std::string_view("{}") : std::string_view(text));
      if (!a) return error_answer(400, "BAD_REQUEST", "arguments: a JSON object");
      return f(*a);
    };
  };
  ops.add("rules_list", [&e](const std::string&) {
    json::array out;
    for (const auto& r : e.list())
      out.push_back(rule_json(*r));
    return json_answer(200, out);
  });
  ops.add("rules_prom", [&e, &node](const std::string&) {
    json::array rules;
    std::size_t actions = 0;
    for (const auto& r : e.list()) {
      actions += r->actions.size();
      auto s = e.metrics(r->id);
      if (!s) continue;
      rules.push_back(json::object{
          {"id", r->id}, {"enable", r->enable}, {"metrics", RuleEngine::metrics_json(*s)}});
    }
    const std::size_t connectors = node.integrations ? node.integrations->connectors().size() : 0;
    return json_answer(
        200, json::object{
                 {"rules", std::move(rules)}, {"actions", actions}, {"connectors", connectors}});
  });
  ops.add("rule_get", with_args([&e](const json::object& a) {
            const json::string* id = string_arg(a, "id");
            auto r = id != nullptr ? e.get(std::string(*id)) : nullptr;
            return r ? json_answer(200, rule_json(*r)) : not_found();
          }));
  ops.add("rule_write", with_args([&e](const json::object& a) {
            const auto* body = a.if_contains("body");
            if (body == nullptr || !body->is_object())
              return error_answer(400, "BAD_REQUEST", "the body must be a JSON object");
            const json::string* id = string_arg(a, "id");
            const bool create = a.contains("create");
            if (create) {
              const auto* given = body->get_object().if_contains("id");
              if (given != nullptr && !given->is_string())
                return error_answer(400, "BAD_REQUEST", "rule id must be a string");
              if (given != nullptr && given->get_string().empty())
                return error_answer(400, "BAD_REQUEST", "empty rule id is not allowed");
            }
            auto r = create ? e.create(std::nullopt, body->get_object())
                            : e.update(id != nullptr ? std::string(*id) : "", body->get_object());
            switch (r.outcome) {
              case RuleEngine::Outcome::Ok:
                return json_answer(create ? 201 : 200, rule_json(*r.rule));
              case RuleEngine::Outcome::Exists:
                return error_answer(400, "BAD_REQUEST", "rule id already exists");
              case RuleEngine::Outcome::Full:
                return error_answer(400, "BAD_REQUEST",
                                    "at most " + std::to_string(RuleEngine::kMaxRules) + " rules");
              case RuleEngine::Outcome::Invalid:
                return invalid(r.error);
              case RuleEngine::Outcome::NotFound:
                break;
            }
            return not_found();
          }));
  ops.add("rule_delete", with_args([&e](const json::object& a) {
            const json::string* id = string_arg(a, "id");
            if (id == nullptr || e.remove(std::string(*id)) != RuleEngine::Outcome::Ok)
              return not_found();
            return json_answer(204, json::object{});
          }));
  ops.add("rule_metrics", with_args([&e](const json::object& a) {
            const json::string* id = string_arg(a, "id");
            auto s = id != nullptr ? e.metrics(std::string(*id)) : std::nullopt;
            return s ? json_answer(200, RuleEngine::metrics_json(*s)) : not_found();
          }));
  ops.add("rule_metrics_reset", with_args([&e](const json::object& a) {
            const json::string* id = string_arg(a, "id");
            return id != nullptr && e.reset_metrics(std::string(*id))
                       ? json_answer(200, json::object{})
                       : not_found();
          }));
}

void add_rules_routes(RouteTable& t, ClusterControl& control, const session::NodeState& node) {
  const std::string self = node.config.node.name;
  auto ask_self = [&control, self](const std::string& op, const json::object& args) -> Response {
    auto a = control.ask(self, op, json::serialize(args), kNodeWait);
    if (!a) return error_response(503, "SERVICE_UNAVAILABLE", "the node did not answer");
    if (a->status == 204) return no_content();
    return relay(*a);
  };
  t.add("GET", "/api/v5/rules", "the rules, with EMQX's filters and pages",
        [&control, self](const Call& c) { return list_rules(c, control, self); });
  // What GET shows and a rule's definition does not hold: a rule read back may be sent
  // back as it is.
  auto definition = [](json::object body) {
    for (auto* k : {"from", "created_at", "updated_at", "metrics", "node_metrics"})
      body.erase(k);
    return body;
  };
  t.add("POST", "/api/v5/rules", "a new rule on every node: {id?, sql, actions, enable, ...}",
        [ask_self, definition](const Call& c) {
          auto body = parse_object(c.request.body);
          if (!body) return bad_request("the body must be a JSON object");
          *body = definition(std::move(*body));
          return ask_self("rule_write", json::object{{"create", true}, {"body", *body}});
        });
  t.add("GET", "/api/v5/rules/{id}", "one rule", [ask_self](const Call& c) {
    return ask_self("rule_get", json::object{{"id", c.params[0]}});
  });
  t.add("PUT", "/api/v5/rules/{id}", "change a rule (fields to change), or make it",
        [ask_self, definition](const Call& c) {
          auto body = parse_object(c.request.body);
          if (!body) return bad_request("the body must be a JSON object");
          *body = definition(std::move(*body));
          return ask_self("rule_write", json::object{{"id", c.params[0]}, {"body", *body}});
        });
  t.add("DELETE", "/api/v5/rules/{id}", "delete a rule on every node", [ask_self](const Call& c) {
    return ask_self("rule_delete", json::object{{"id", c.params[0]}});
  });
  t.add("GET", "/api/v5/rules/{id}/metrics", "a rule's metrics, summed and per node",
        [&control](const Call& c) { return rule_metrics(control, c.params[0]); });
  t.add("PUT", "/api/v5/rules/{id}/metrics/reset", "zero a rule's metrics on every node",
        [&control](const Call& c) {
          const std::string args = json::serialize(json::object{{"id", c.params[0]}});
          bool found = false;
          for (const auto& a :
               ask_each(control, control.running_nodes(), "rule_metrics_reset", args, kNodeWait))
            found = found || (a && a->status == 200);
          if (!found) return error_response(404, "NOT_FOUND", "Rule Id Not Found");
          return no_content();
        });
  t.add("POST", "/api/v5/rule_test", "run SQL over a sample event: {sql, context}",
        [self](const Call& c) { return rule_test(c, self); });
  t.add("GET", "/api/v5/rule_events", "the events rules may read",
        [self](const Call&) { return json_response(200, rule_events(self)); });
  t.add("GET", "/api/v5/prometheus/data_integration", "the rules' metrics for Prometheus",
        [&control, self](const Call& c) { return data_integration(c, control, self); });
  const bool ignore_sys = node.config.rule_engine.ignore_sys_message;
  t.add("GET", "/api/v5/rule_engine", "the rule engine's settings", [ignore_sys](const Call&) {
    return json_response(200, json::object{{"ignore_sys_message", ignore_sys}});
  });
}

}  // namespace emqxd::api
