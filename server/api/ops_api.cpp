#include "api/ops_api.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/json.hpp>
#include <charconv>
#include <map>

#include "api/router.hpp"
#include "auth/base64.hpp"
#include "common/log.hpp"
#include "common/time_text.hpp"

namespace emqxd::api {

namespace json = boost::json;
namespace urls = boost::urls;

namespace {

// How long one node may take to answer its part.
constexpr std::chrono::seconds kNodeWait{5};
// Bulk requests (subscribe/bulk, kickout/bulk, publish/bulk) take at most this many items.
constexpr std::size_t kMaxBulk = 1000;

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("api");
  return l;
}

Response client_not_found() {
  return error_response(404, "CLIENTID_NOT_FOUND", "Client ID not found");
}

// Every value of `name` in the query ("clientid=a&clientid=b"), decoded.
std::vector<std::string> query_params(const urls::url_view& target, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& p : target.params(urls::encoding_opts(/*space_as_plus=*/true))) {
    if (p.key == name) out.push_back(p.has_value ? p.value : std::string());
  }
  return out;
}

std::optional<json::value> parse_json(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  return v;
}

std::string text(const json::object& o) {
  return json::serialize(o);
}

// ------------------------------------------------------------------ query parameters

// The filters of /clients as node_ops.cpp takes them; a 400 when one is bad.
std::optional<Response> client_filters(const urls::url_view& t, json::object& args) {
  auto list = [&](std::string_view key) {
    auto v = query_params(t, key);
    if (!v.empty()) {
      json::array a;
      for (auto& s : v)
        a.emplace_back(s);
      args[key] = std::move(a);
    }
  };
  list("clientid");
  list("username");
  for (const char* key : {"like_clientid", "like_username"}) {
    if (auto v = query_param(t, key)) args[key] = *v;
  }
  if (auto v = query_param(t, "ip_address")) {
    boost::system::error_code ec;
    boost::asio::ip::make_address(*v, ec);
    if (ec) return bad_request("ip_address: an IPv4 or IPv6 address");
    args["ip_address"] = *v;
  }
  if (auto v = query_param(t, "conn_state")) {
    if (*v != "connected" && *v != "idle" && *v != "disconnected") {
      return bad_request("conn_state: connected, idle or disconnected");
    }
    args["conn_state"] = *v;
  }
  if (auto v = query_param(t, "clean_start")) {
    if (*v != "true" && *v != "false") return bad_request("clean_start: true or false");
    args["clean_start"] = *v == "true";
  }
  if (auto v = query_param(t, "proto_ver")) {
    int n = 0;
    auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
    if (ec != std::errc() || p != v->data() + v->size()) {
      return bad_request("proto_ver: an integer (3, 4 or 5)");
    }
    args["proto_ver"] = n;
  }
  for (const char* key :
       {"gte_created_at", "lte_created_at", "gte_connected_at", "lte_connected_at"}) {
    if (auto v = query_param(t, key)) {
      auto ms = time_text::parse_time_ms(*v);
      if (!ms) {
        return bad_request(std::string(key) + ": Unix milliseconds or an RFC 3339 time");
      }
      args[key] = *ms;
    }
  }
  if (auto v = query_param(t, "fields"); v && *v != "all") {
    json::array fields;
    std::string_view rest = *v;
    while (!rest.empty()) {
      auto comma = rest.find(',');
      auto f = rest.substr(0, comma);
      if (!f.empty()) fields.emplace_back(f);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    args["fields"] = std::move(fields);
  }
  return std::nullopt;
}

std::optional<Response> subscription_filters(const urls::url_view& t, json::object& args) {
  for (const char* key : {"clientid", "topic", "share_group", "match_topic"}) {
    if (auto v = query_param(t, key)) args[key] = *v;
  }
  if (auto v = query_param(t, "qos")) {
    if (*v != "0" && *v != "1" && *v != "2") return bad_request("qos: 0, 1 or 2");
    args["qos"] = (*v)[0] - '0';
  }
  return std::nullopt;
}

// The nodes a listing covers: ?node= (a running member), or every running member.
std::optional<Response> nodes_for(ClusterControl& control, const urls::url_view& t,
                                  std::vector<std::string>& nodes) {
  nodes = control.running_nodes();
  if (auto n = query_param(t, "node")) {
    if (std::find(nodes.begin(), nodes.end(), *n) == nodes.end()) {
      return error_response(404, "NOT_FOUND", "no running node " + *n);
    }
    nodes = {*n};
  }
  return std::nullopt;
}

// Per-node answers of `op` ("stats", "metrics") with "node" added, or summed (EMQX: the
// retained messages and topics are the cluster's, the same on every node: taken once).
Response counters(ClusterControl& control, const std::vector<std::string>& nodes,
                  const std::string& op, bool aggregate) {
  json::array per_node;
  json::object sum;
  const auto answers = ask_each(control, nodes, op, "{}", kNodeWait);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& node = nodes[i];
    const auto& a = answers[i];
    std::optional<json::value> v;
    if (a && a->status == 200) v = parse_json(a->body);
    if (!v || !v->is_object()) continue;
    json::object mine{{"node", node}};
    for (const auto& kv : v->as_object()) {
      mine[kv.key()] = kv.value();
      if (!kv.value().is_number()) continue;
      const auto n = kv.value().to_number<std::uint64_t>();
      const bool global = kv.key().starts_with("retained.") || kv.key().starts_with("topics.");
      auto* have = sum.if_contains(kv.key());
      if (have == nullptr) {
        sum[kv.key()] = n;
      } else if (global) {
        *have = std::max(have->to_number<std::uint64_t>(), n);
      } else {
        *have = have->to_number<std::uint64_t>() + n;
      }
    }
    per_node.push_back(std::move(mine));
  }
  if (aggregate) return json_response(200, sum);
  return json_response(200, per_node);
}

std::optional<Response> aggregate_param(const urls::url_view& t, bool& aggregate) {
  auto v = query_param(t, "aggregate");
  if (v && *v != "true" && *v != "false") return bad_request("aggregate: true or false");
  aggregate = v && *v == "true";
  return std::nullopt;
}

// ------------------------------------------------------------------ publish

// EMQX's publish body -> the arguments of node_ops.cpp's "publish"; a message on error.
std::optional<std::string> publish_args(const json::value& v, json::object& args) {
  if (!v.is_object()) return "a JSON object {\"topic\", \"payload\", ...}";
  const auto& o = v.as_object();
  const auto* topic = o.if_contains("topic");
  if (topic == nullptr || !topic->is_string()) return "topic: a string";
  args["topic"] = *topic;
  std::string payload;
  if (const auto* p = o.if_contains("payload")) {
    if (!p->is_string()) return "payload: a string";
    payload = std::string(p->as_string());
  }
  std::string encoding = "plain";
  if (const auto* e = o.if_contains("payload_encoding")) {
    if (!e->is_string() || (e->as_string() != "plain" && e->as_string() != "base64")) {
      return "payload_encoding: plain or base64";
    }
    encoding = std::string(e->as_string());
  }
  if (encoding == "base64") {
    auto decoded = auth::unbase64(payload);
    if (!decoded) return "payload: not base64";
    payload = std::move(*decoded);
  }
  // Base64 between nodes: a payload is bytes, and JSON text must be UTF-8.
  args["payload"] = auth::base64(payload);
  std::int64_t qos = 0;
  if (const auto* q = o.if_contains("qos")) {
    if (!q->is_int64() || q->as_int64() < 0 || q->as_int64() > 2) return "qos: 0, 1 or 2";
    qos = q->as_int64();
  }
  args["qos"] = qos;
  if (const auto* r = o.if_contains("retain")) {
    if (!r->is_bool()) return "retain: true or false";
    args["retain"] = r->as_bool();
  }
  if (const auto* props = o.if_contains("properties")) {
    if (!props->is_object()) return "properties: an object";
    for (const auto& kv : props->as_object()) {
      const auto& k = kv.key();
      const auto& val = kv.value();
      if (k == "payload_format_indicator" || k == "message_expiry_interval") {
        if (!val.is_int64() || val.as_int64() < 0 || val.as_int64() > UINT32_MAX) {
          return std::string(k) + ": a non-negative integer";
        }
        args[k] = val;
      } else if (k == "content_type" || k == "response_topic" || k == "correlation_data") {
        if (!val.is_string()) return std::string(k) + ": a string";
        args[k] = val;
      } else if (k == "user_properties") {
        if (!val.is_object()) return "user_properties: an object of strings";
        args[k] = val;
      } else {
        return "properties: unknown property " + std::string(k);
      }
    }
  }
  return std::nullopt;
}

// One message published on this node: EMQX's {"id"} (200), or with reason code 16 (202)
// when nobody in the cluster subscribes to it.
std::pair<int, json::object> publish_one(ClusterControl& control, const std::string& self,
                                         const json::object& args) {
  auto a = control.ask(self, "publish", text(args), kNodeWait);
  std::optional<json::value> v;
  if (a) v = parse_json(a->body);
  if (!a || !v || !v->is_object()) {
    return {503, {{"code", "SERVICE_UNAVAILABLE"}, {"message", "not published"}}};
  }
  if (a->status != 200) return {a->status, v->as_object()};
  const auto& o = v->as_object();
  json::object out{{"id", o.contains("id") ? o.at("id") : json::value("")}};
  const auto* matched = o.if_contains("matched");
  if (matched == nullptr || !matched->is_number() || matched->to_number<std::uint64_t>() == 0) {
    out["reason_code"] = 16;
    out["message"] = "no_matching_subscribers";
    return {202, out};
  }
  return {200, out};
}

std::string self_of(ClusterControl& control) {
  return control.status().self;
}

// Every listener with each running member's view of it (EMQX's node_status): running when
// it runs on every member that answered, its connections summed.
json::array listeners_of(ClusterControl& control) {
  const auto nodes = control.running_nodes();
  const auto answers = ask_each(control, nodes, "listeners", "{}", kNodeWait);
  json::array out;
  std::map<std::string, std::size_t> at;  // id -> index in out
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::optional<json::value> v;
    if (answers[i] && answers[i]->status == 200) v = parse_json(answers[i]->body);
    if (!v || !v->is_array()) continue;
    for (const auto& item : v->as_array()) {
      if (!item.is_object()) continue;
      const auto& l = item.as_object();
      const auto* id = l.if_contains("id");
      if (id == nullptr || !id->is_string()) continue;
      const bool running =
          l.contains("running") && l.at("running").is_bool() && l.at("running").as_bool();
      const std::uint64_t conns =
          l.contains("current_connections") && l.at("current_connections").is_number()
              ? l.at("current_connections").to_number<std::uint64_t>()
              : 0;
      auto [it, fresh] = at.emplace(std::string(id->as_string()), out.size());
      if (fresh) {
        json::object o = l;
        o["node_status"] = json::array();
        out.push_back(std::move(o));
      }
      auto& o = out[it->second].as_object();
      if (!fresh) {
        o["running"] = o["running"].as_bool() && running;
        o["current_connections"] = o["current_connections"].to_number<std::uint64_t>() + conns;
      }
      o["node_status"].as_array().push_back(json::object{
          {"node", nodes[i]},
          {"status",
           {{"running", running},
            {"current_connections", conns},
            {"max_connections",
             l.contains("max_connections") ? l.at("max_connections") : json::value(nullptr)}}}});
    }
  }
  return out;
}

}  // namespace

std::optional<NodeAnswer> on_owner(ClusterControl& control, const std::string& op,
                                   const json::object& args) {
  for (auto& a : ask_each(control, control.running_nodes(), op, text(args), kNodeWait)) {
    if (a && a->status != 404) return std::move(a);
  }
  return std::nullopt;
}

// A listing paged across `nodes`, in node order: first every node says at once how many
// match (limit 0), then the nodes the page falls on give their parts at once
// (node_ops.cpp: {"count", "data"}). A node that does not answer is left out.
Response paged(ClusterControl& control, const std::vector<std::string>& nodes,
               const std::string& op, json::object args, std::size_t page, std::size_t limit) {
  const std::size_t start = (page - 1) * limit;
  args["offset"] = 0;
  args["limit"] = 0;
  const auto counted = ask_each(control, nodes, op, text(args), kNodeWait);
  std::vector<std::string> asked, windows;
  std::size_t before = 0;
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::optional<json::value> v;
    if (counted[i] && counted[i]->status == 200) v = parse_json(counted[i]->body);
    const json::value* c = v && v->is_object() ? v->as_object().if_contains("count") : nullptr;
    if (c == nullptr || !c->is_number()) {
      logger()->warn("API {}: node {} did not answer; its part is left out", op, nodes[i]);
      continue;
    }
    const auto count = c->to_number<std::size_t>();
    // This node's rows are [before, before + count) of the whole listing.
    if (before + count > start && before < start + limit) {
      const std::size_t from = start > before ? start - before : 0;
      args["offset"] = from;
      args["limit"] = std::min(count - from, start + limit - std::max(start, before));
      asked.push_back(nodes[i]);
      windows.push_back(text(args));
    }
    before += count;
  }
  json::array data;
  const auto parts = ask_each(control, asked, op, windows, kNodeWait);
  for (std::size_t i = 0; i < asked.size(); ++i) {
    std::optional<json::value> v;
    if (parts[i] && parts[i]->status == 200) v = parse_json(parts[i]->body);
    const json::value* d = v && v->is_object() ? v->as_object().if_contains("data") : nullptr;
    if (d == nullptr || !d->is_array()) continue;
    for (const auto& item : d->as_array()) {
      if (data.size() < limit) data.push_back(item);
    }
  }
  return json_response(
      200, json::object{{"data", std::move(data)}, {"meta", page_meta(page, limit, before)}});
}

void add_ops_routes(RouteTable& t, ClusterControl& control) {
  ClusterControl* c = &control;

  // ---------------------------------------------------------------- nodes, stats, metrics
  t.add("GET", "/api/v5/nodes", "every member of the cluster", [c](const Call&) {
    json::array out;
    const auto running = c->running_nodes();
    const auto answers = ask_each(*c, running, "node", "{}", kNodeWait);
    for (std::size_t i = 0; i < running.size(); ++i) {
      const auto& node = running[i];
      const auto& a = answers[i];
      std::optional<json::value> v;
      if (a && a->status == 200) v = parse_json(a->body);
      if (v && v->is_object()) {
        out.push_back(std::move(*v));
      } else {
        out.push_back(json::object{{"node", node}, {"node_status", "stopped"}});
      }
    }
    for (const auto& m : c->status().members) {
      if (std::find(running.begin(), running.end(), m.node) == running.end()) {
        out.push_back(json::object{{"node", m.node}, {"node_status", "stopped"}});
      }
    }
    return json_response(200, out);
  });
  t.add("GET", "/api/v5/nodes/{node}", "one member", [c](const Call& call) {
    auto a = c->ask(call.params[0], "node", "{}", kNodeWait);
    if (!a) return error_response(404, "NOT_FOUND", "no running node " + call.params[0]);
    return relay(*a);
  });
  for (const char* op : {"stats", "metrics"}) {
    t.add("GET", std::string("/api/v5/nodes/{node}/") + op, std::string("one member's ") + op,
          [c, op = std::string(op)](const Call& call) {
            auto a = c->ask(call.params[0], op, "{}", kNodeWait);
            if (!a) return error_response(404, "NOT_FOUND", "no running node " + call.params[0]);
            return relay(*a);
          });
    t.add("GET", std::string("/api/v5/") + op,
          std::string(op) + " of each running node, or summed with aggregate=true",
          [c, op = std::string(op)](const Call& call) {
            bool aggregate = false;
            if (auto bad = aggregate_param(call.target, aggregate)) return std::move(*bad);
            return counters(*c, c->running_nodes(), op, aggregate);
          });
  }

  // ---------------------------------------------------------------- clients
  t.add("GET", "/api/v5/clients", "clients of the cluster, EMQX's filters", [c](const Call& call) {
    std::size_t page = 1, limit = 0;
    if (auto bad = paging(call.target, page, limit)) return std::move(*bad);
    json::object args;
    if (auto bad = client_filters(call.target, args)) return std::move(*bad);
    std::vector<std::string> nodes;
    if (auto bad = nodes_for(*c, call.target, nodes)) return std::move(*bad);
    return paged(*c, nodes, "clients", std::move(args), page, limit);
  });
  t.add("GET", "/api/v5/clients/{clientid}", "one client", [c](const Call& call) {
    json::object args{{"clientid", call.params[0]}};
    if (auto v = query_param(call.target, "fields"); v && *v != "all") {
      json::object extra;
      if (auto bad = client_filters(call.target, extra)) return std::move(*bad);
      args["fields"] = extra["fields"];
    }
    auto a = on_owner(*c, "client", args);
    return a ? relay(*a) : client_not_found();
  });
  t.add("DELETE", "/api/v5/clients/{clientid}", "kick a client and end its session",
        [c](const Call& call) {
          auto a = on_owner(*c, "kick", json::object{{"clientid", call.params[0]}});
          if (!a) return client_not_found();
          return a->status == 200 ? no_content() : relay(*a);
        });
  t.add("POST", "/api/v5/clients/kickout/bulk", "kick clients: [\"id\", ...]",
        [c](const Call& call) {
          auto v = parse_json(call.request.body);
          if (!v || !v->is_array() || v->as_array().size() > kMaxBulk) {
            return bad_request("expected a JSON array of client ids (at most 1000)");
          }
          for (const auto& id : v->as_array()) {
            if (!id.is_string()) return bad_request("expected a JSON array of client ids");
          }
          for (const auto& id : v->as_array())
            on_owner(*c, "kick", json::object{{"clientid", id}});
          return no_content();
        });
  t.add("GET", "/api/v5/clients/{clientid}/subscriptions", "a client's subscriptions",
        [c](const Call& call) {
          auto a = on_owner(*c, "client_subscriptions", json::object{{"clientid", call.params[0]}});
          return a ? relay(*a) : client_not_found();
        });
  // {"topic", "qos", "nl", "rap", "rh"} -> the arguments of "subscribe"; nullopt if bad.
  auto subscribe_args = [](const json::value& v,
                           const std::string& id) -> std::optional<json::object> {
    if (!v.is_object()) return std::nullopt;
    const auto& o = v.as_object();
    const auto* topic = o.if_contains("topic");
    if (topic == nullptr || !topic->is_string() || topic->as_string().empty()) return std::nullopt;
    json::object args{{"clientid", id}, {"topic", *topic}};
    for (const char* k : {"qos", "nl", "rap", "rh"}) {
      if (const auto* x = o.if_contains(k)) {
        if (!x->is_int64()) return std::nullopt;
        args[k] = *x;
      }
    }
    return args;
  };
  t.add("POST", "/api/v5/clients/{clientid}/subscribe", "subscribe a connected client",
        [c, subscribe_args](const Call& call) {
          auto v = parse_json(call.request.body);
          auto args = v ? subscribe_args(*v, call.params[0]) : std::nullopt;
          if (!args) return bad_request("expected {\"topic\", \"qos\", \"nl\", \"rap\", \"rh\"}");
          auto a = on_owner(*c, "subscribe", *args);
          return a ? relay(*a) : client_not_found();
        });
  t.add("POST", "/api/v5/clients/{clientid}/subscribe/bulk", "subscribe a client to several",
        [c, subscribe_args](const Call& call) {
          auto v = parse_json(call.request.body);
          if (!v || !v->is_array() || v->as_array().size() > kMaxBulk) {
            return bad_request("expected a JSON array of {\"topic\", \"qos\", ...}");
          }
          std::vector<json::object> all;
          for (const auto& item : v->as_array()) {
            auto args = subscribe_args(item, call.params[0]);
            if (!args) return bad_request("expected a JSON array of {\"topic\", \"qos\", ...}");
            all.push_back(std::move(*args));
          }
          json::array out;
          for (const auto& args : all) {
            auto a = on_owner(*c, "subscribe", args);
            if (!a) return client_not_found();
            if (a->status != 200) return relay(*a);
            if (auto s = parse_json(a->body)) out.push_back(std::move(*s));
          }
          return json_response(200, out);
        });
  auto unsubscribe = [c](const std::string& id,
                         const json::value& item) -> std::optional<Response> {
    const auto* topic = item.is_object() ? item.as_object().if_contains("topic") : nullptr;
    if (topic == nullptr || !topic->is_string()) return bad_request("expected {\"topic\"}");
    auto a = on_owner(*c, "unsubscribe", json::object{{"clientid", id}, {"topic", *topic}});
    if (!a) return client_not_found();
    if (a->status != 200) return relay(*a);
    return std::nullopt;
  };
  t.add("POST", "/api/v5/clients/{clientid}/unsubscribe", "unsubscribe a connected client",
        [unsubscribe](const Call& call) {
          auto v = parse_json(call.request.body);
          if (!v) return bad_request("expected {\"topic\"}");
          if (auto r = unsubscribe(call.params[0], *v)) return std::move(*r);
          return no_content();
        });
  t.add("POST", "/api/v5/clients/{clientid}/unsubscribe/bulk", "unsubscribe from several",
        [unsubscribe](const Call& call) {
          auto v = parse_json(call.request.body);
          if (!v || !v->is_array() || v->as_array().size() > kMaxBulk) {
            return bad_request("expected a JSON array of {\"topic\"}");
          }
          for (const auto& item : v->as_array()) {
            if (auto r = unsubscribe(call.params[0], item)) return std::move(*r);
          }
          return no_content();
        });
  for (const char* kind : {"mqueue", "inflight"}) {
    t.add("GET", "/api/v5/clients/{clientid}/" + std::string(kind) + "_messages",
          std::string("a client's ") + (kind[0] == 'm' ? "queued" : "in-flight") + " messages",
          [c, op = std::string(kind)](const Call& call) {
            std::size_t limit = Router::kDefaultLimit, position = 0;
            for (auto [key, out] : {std::pair<const char*, std::size_t*>{"limit", &limit},
                                    std::pair<const char*, std::size_t*>{"position", &position}}) {
              if (auto v = query_param(call.target, key)) {
                auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), *out);
                if (ec != std::errc() || p != v->data() + v->size()) {
                  return bad_request(std::string(key) + ": a non-negative integer");
                }
              }
            }
            if (limit < 1 || limit > Router::kMaxLimit) return bad_request("limit: 1 to 10000");
            auto a = on_owner(
                *c, op,
                json::object{{"clientid", call.params[0]}, {"offset", position}, {"limit", limit}});
            if (!a) return client_not_found();
            if (a->status != 200) return relay(*a);
            auto v = parse_json(a->body);
            if (!v || !v->is_object()) return relay(*a);
            auto& o = v->as_object();
            const auto count = o["count"].is_number() ? o["count"].to_number<std::size_t>() : 0;
            const auto got = o["data"].is_array() ? o["data"].as_array().size() : 0;
            const std::size_t next = position + got;
            return json_response(
                200, json::object{{"data", o["data"]},
                                  {"meta",
                                   {{"start", std::to_string(position)},
                                    {"position", next < count ? json::value(std::to_string(next))
                                                              : json::value("end_of_data")},
                                    {"count", count}}}});
          });
  }

  // ---------------------------------------------------------------- subscriptions, topics
  t.add("GET", "/api/v5/subscriptions", "subscriptions of the cluster", [c](const Call& call) {
    std::size_t page = 1, limit = 0;
    if (auto bad = paging(call.target, page, limit)) return std::move(*bad);
    json::object args;
    if (auto bad = subscription_filters(call.target, args)) return std::move(*bad);
    std::vector<std::string> nodes;
    if (auto bad = nodes_for(*c, call.target, nodes)) return std::move(*bad);
    return paged(*c, nodes, "subscriptions", std::move(args), page, limit);
  });
  t.add("GET", "/api/v5/topics", "the topics subscribed to in the cluster, and where",
        [c](const Call& call) {
          std::size_t page = 1, limit = 0;
          if (auto bad = paging(call.target, page, limit)) return std::move(*bad);
          const std::string topic = query_param(call.target, "topic").value_or("");
          const std::size_t start = (page - 1) * limit;
          // Every node holds the whole route table: this one answers.
          auto routes = c->routes(topic, start + limit);
          json::array data;
          for (std::size_t i = start; i < routes.data.size(); ++i) {
            data.push_back(
                json::object{{"topic", routes.data[i].topic}, {"node", routes.data[i].node}});
          }
          return json_response(200, json::object{{"data", std::move(data)},
                                                 {"meta", page_meta(page, limit, routes.count)}});
        });

  // ---------------------------------------------------------------- listeners
  t.add("GET", "/api/v5/listeners", "the MQTT listeners and their state on each node",
        [c](const Call&) { return json_response(200, listeners_of(*c)); });
  t.add("GET", "/api/v5/listeners/{id}", "one listener (type:name)", [c](const Call& call) {
    for (auto& l : listeners_of(*c)) {
      if (l.as_object().at("id") == json::value(call.params[0])) return json_response(200, l);
    }
    return error_response(404, "BAD_LISTENER_ID", "no listener " + call.params[0]);
  });
  for (const char* action : {"stop", "start", "restart"}) {
    t.add("POST", "/api/v5/listeners/{id}/" + std::string(action),
          std::string(action) + " a listener on every running node",
          [c, action = std::string(action)](const Call& call) {
            const json::object args{{"id", call.params[0]}, {"action", action}};
            const auto nodes = c->running_nodes();
            const auto answers = ask_each(*c, nodes, "listener_action", text(args), kNodeWait);
            bool found = false;
            for (std::size_t i = 0; i < nodes.size(); ++i) {
              if (!answers[i]) {
                return error_response(503, "SERVICE_UNAVAILABLE", nodes[i] + " did not answer");
              }
              if (answers[i]->status == 404) continue;
              if (answers[i]->status != 200) return relay(*answers[i]);
              found = true;
            }
            if (!found)
              return error_response(404, "BAD_LISTENER_ID", "no listener " + call.params[0]);
            return json_response(200, json::object{});
          });
  }

  // ---------------------------------------------------------------- publish
  t.add("POST", "/api/v5/publish", "publish a message", [c](const Call& call) {
    auto v = parse_json(call.request.body);
    json::object args;
    if (!v) return bad_request("the body must be JSON");
    if (auto bad = publish_args(*v, args)) return bad_request(*bad);
    auto [status, out] = publish_one(*c, self_of(*c), args);
    return json_response(status, out);
  });
  t.add("POST", "/api/v5/publish/bulk", "publish several messages", [c](const Call& call) {
    auto v = parse_json(call.request.body);
    if (!v || !v->is_array() || v->as_array().size() > kMaxBulk) {
      return bad_request("expected a JSON array of messages (at most 1000)");
    }
    std::vector<json::object> all;
    for (const auto& item : v->as_array()) {
      json::object args;
      if (auto bad = publish_args(item, args)) return bad_request(*bad);
      all.push_back(std::move(args));
    }
    const std::string self = self_of(*c);
    json::array out;
    int status = 200;
    for (const auto& args : all) {
      auto [s, o] = publish_one(*c, self, args);
      if (s >= 500) status = s;
      if (s == 202 && status == 200) status = 202;
      out.push_back(std::move(o));
    }
    return json_response(status, out);
  });
}

}  // namespace emqxd::api
