#include "api/config_api.hpp"

#include <boost/json.hpp>

#include "api/router.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

Response read_only() {
  return error_response(400, "UPDATE_FAILED",
                        "emqxd changes only the log handlers at run time (PUT "
                        "/api/v5/configs/log); change emqx.conf and restart the node for the rest");
}

// The authenticators of the chain as configured, each with EMQX's id
// ("password_based:built_in_database", "jwt", "scram:built_in_database").
json::array authenticators(const json::object& written) {
  json::array out;
  const json::value* chain = written.if_contains("authentication");
  if (chain == nullptr || !chain->is_array()) return out;
  for (const auto& a : chain->get_array()) {
    if (!a.is_object()) continue;
    json::object o = a.get_object();
    std::string id;
    if (const auto* m = o.if_contains("mechanism"); m != nullptr && m->is_string()) {
      id = std::string(m->get_string());
    }
    if (const auto* b = o.if_contains("backend"); b != nullptr && b->is_string()) {
      id += ":" + std::string(b->get_string());
    }
    o["id"] = id;
    if (!o.contains("enable")) o["enable"] = true;
    out.push_back(std::move(o));
  }
  return out;
}

json::array sources(const json::object& written) {
  json::array out;
  const json::value* authz = written.if_contains("authorization");
  const json::value* list =
      authz != nullptr && authz->is_object() ? authz->get_object().if_contains("sources") : nullptr;
  if (list == nullptr || !list->is_array()) return out;
  for (const auto& s : list->get_array()) {
    if (!s.is_object()) continue;
    json::object o = s.get_object();
    if (!o.contains("enable")) o["enable"] = true;
    out.push_back(std::move(o));
  }
  return out;
}

// EMQX's read paths of authentication and authorization, from the config as written.
void add_access_config_routes(RouteTable& t, std::shared_ptr<const json::object> written) {
  t.add("GET", "/api/v5/authentication", "the authenticators, in chain order",
        [written](const Call&) { return json_response(200, authenticators(*written)); });
  t.add("GET", "/api/v5/authentication/{id}", "one authenticator", [written](const Call& c) {
    for (const auto& a : authenticators(*written)) {
      if (a.get_object().at("id") == c.params[0].c_str()) return json_response(200, a);
    }
    return error_response(404, "NOT_FOUND", "no such authenticator: " + c.params[0]);
  });
  t.add("GET", "/api/v5/authorization/sources", "the authorization sources, in order",
        [written](const Call&) {
          return json_response(200, json::object{{"sources", sources(*written)}});
        });
  t.add("GET", "/api/v5/authorization/sources/{type}", "one authorization source",
        [written](const Call& c) {
          for (const auto& s : sources(*written)) {
            const auto* type = s.get_object().if_contains("type");
            if (type != nullptr && *type == c.params[0].c_str()) return json_response(200, s);
          }
          return error_response(404, "NOT_FOUND", "no such source: " + c.params[0]);
        });
  t.add("GET", "/api/v5/authorization/settings", "no_match, deny_action and cache",
        [written](const Call&) {
          json::object o{{"no_match", "allow"}, {"deny_action", "ignore"}};
          const json::value* authz = written->if_contains("authorization");
          if (authz != nullptr && authz->is_object()) {
            for (const char* k : {"no_match", "deny_action", "cache"}) {
              if (const auto* v = authz->get_object().if_contains(k)) o[k] = *v;
            }
          }
          return json_response(200, o);
        });
}

}  // namespace

void add_config_routes(RouteTable& t, const config::Config& config) {
  // Parsed once: the text never changes.
  auto written = std::make_shared<const json::object>([&config] {
    json::error_code ec;
    json::value v = json::parse(config.written_json, ec);
    return !ec && v.is_object() ? std::move(v.get_object()) : json::object{};
  }());
  t.add("GET", "/api/v5/configs", "the configuration in force, as written (?key=<root>)",
        [written](const Call& c) {
          auto key = query_param(c.target, "key");
          if (!key) return json_response(200, *written);
          json::object out;
          if (const json::value* v = written->if_contains(*key)) out[*key] = *v;
          return json_response(200, out);
        });
  t.add("PUT", "/api/v5/configs", "not supported: emqx.conf and a restart",
        [](const Call&) { return read_only(); });
  t.add("GET", "/api/v5/configs/{root}", "one root of the configuration, as written",
        [written](const Call& c) {
          const json::value* v = written->if_contains(c.params[0]);
          return json_response(200, v != nullptr ? *v : json::value(json::object{}));
        });
  t.add("PUT", "/api/v5/configs/{root}", "not supported but for log: emqx.conf and a restart",
        [](const Call&) { return read_only(); });
  add_access_config_routes(t, written);
}

}  // namespace emqxd::api
