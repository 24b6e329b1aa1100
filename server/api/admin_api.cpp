#include "api/admin_api.hpp"

#include <boost/json.hpp>

#include "api/router.hpp"
#include "common/time_text.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxText = 1024;  // descriptions

// The answer to an Admins error.
Response failed(Admins::Error e, std::string_view what) {
  switch (e) {
    case Admins::Error::NotFound:
      return error_response(404, "NOT_FOUND", std::string(what) + " not found");
    case Admins::Error::Exists:
      return error_response(409, "ALREADY_EXISTS", std::string(what) + " already exists");
    case Admins::Error::Full:
      return error_response(400, "BAD_REQUEST",
                            "too many: at most " + std::to_string(Admins::kMaxUsers) +
                                " users and " + std::to_string(Admins::kMaxKeys) + " API keys");
    default:
      return bad_request(Admins::message(e));
  }
}

// An optional string member: a 400 when present and not a string (or too long).
std::optional<Response> read_text(const json::object& o, std::string_view key,
                                  std::optional<std::string>& out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) return std::nullopt;
  if (!v->is_string() || v->get_string().size() > kMaxText) {
    return bad_request(std::string(key) + " must be a string of at most 1024 bytes");
  }
  out = std::string(v->get_string());
  return std::nullopt;
}

std::optional<Response> read_role(const json::object& o, std::optional<Role>& out) {
  std::optional<std::string> text;
  if (auto bad = read_text(o, "role", text)) return bad;
  if (!text) return std::nullopt;
  out = parse_role(*text);
  if (!out) return bad_request("role must be administrator or viewer");
  return std::nullopt;
}

json::object user_json(const Admins::User& u) {
  return json::object{{"username", u.username},
                      {"role", role_name(u.role)},
                      {"description", u.description},
                      {"backend", "local"}};
}

// "infinity", null or absent: never (0); an RFC 3339 time: Unix seconds.
std::optional<Response> read_expiry(const json::object& o, std::optional<std::int64_t>& out) {
  const json::value* v = o.if_contains("expired_at");
  if (v == nullptr) return std::nullopt;
  if (v->is_null() || (v->is_string() && v->get_string() == "infinity")) {
    out = 0;
    return std::nullopt;
  }
  std::optional<std::int64_t> t;
  if (v->is_string()) t = time_text::parse_rfc3339(v->get_string());
  if (!t || *t <= 0) {
    return bad_request("expired_at must be \"infinity\" or an RFC 3339 time");
  }
  out = *t;
  return std::nullopt;
}

json::object key_json(const Admins::Key& k) {
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  json::object o{{"name", k.name},
                 {"api_key", k.api_key},
                 {"desc", k.desc},
                 {"enable", k.enable},
                 {"created_at", time_text::rfc3339(k.created_at)},
                 {"role", role_name(k.role)},
                 {"expired", k.expired_at != 0 && k.expired_at <= now}};
  o["expired_at"] =
      k.expired_at == 0 ? json::value("infinity") : json::value(time_text::rfc3339(k.expired_at));
  return o;
}

void add_user_routes(RouteTable& t, Admins& admins, const PasswordCheck& check) {
  t.add("GET", "/api/v5/users", "the dashboard users", [&admins](const Call&) {
    json::array out;
    for (const auto& u : admins.users())
      out.push_back(user_json(u));
    return json_response(200, out);
  });
  t.add("POST", "/api/v5/users",
        "add a dashboard user: {\"username\", \"password\", \"role\", \"description\"}",
        [&admins](const Call& c) {
          auto o = parse_object(c.request.body);
          if (!o) return bad_request("expected a JSON object");
          std::optional<std::string> name, password, description;
          std::optional<Role> role;
          if (auto bad = read_text(*o, "username", name)) return *bad;
          if (auto bad = read_text(*o, "password", password)) return *bad;
          if (auto bad = read_text(*o, "description", description)) return *bad;
          if (auto bad = read_role(*o, role)) return *bad;
          if (!name || !password) return bad_request("username and password are required");
          auto e = admins.add_user(*name, *password, role.value_or(Role::Administrator),
                                   description.value_or(""));
          wipe(*password);
          if (e != Admins::Error::None) return failed(e, "user " + *name);
          return json_response(200, user_json(*admins.user(*name)));
        });
  t.add("PUT", "/api/v5/users/{username}",
        "change a user's role or description: {\"role\", \"description\"}",
        [&admins](const Call& c) {
          auto o = parse_object(c.request.body);
          if (!o) return bad_request("expected a JSON object");
          std::optional<std::string> description;
          std::optional<Role> role;
          if (auto bad = read_text(*o, "description", description)) return *bad;
          if (auto bad = read_role(*o, role)) return *bad;
          const std::string& name = c.params[0];
          if (auto e = admins.update_user(name, role, description); e != Admins::Error::None) {
            return failed(e, "user " + name);
          }
          return json_response(200, user_json(*admins.user(name)));
        });
  t.add("DELETE", "/api/v5/users/{username}", "delete a dashboard user", [&admins](const Call& c) {
    const std::string& name = c.params[0];
    if (name == c.user) return bad_request("a user cannot delete themselves");
    if (auto e = admins.delete_user(name); e != Admins::Error::None) {
      return failed(e, "user " + name);
    }
    return no_content();
  });
  t.add(
      "POST", "/api/v5/users/{username}/change_pwd",
      "change a password: {\"old_pwd\", \"new_pwd\"} (old_pwd needed for one's own)",
      [&admins, check](const Call& c) {
        auto o = parse_object(c.request.body);
        if (!o) return bad_request("expected a JSON object");
        std::optional<std::string> old_pwd, new_pwd;
        if (auto bad = read_text(*o, "old_pwd", old_pwd)) return *bad;
        if (auto bad = read_text(*o, "new_pwd", new_pwd)) return *bad;
        const std::string& name = c.params[0];
        const bool self = name == c.user;
        if (!self && c.role != Role::Administrator) {
          return error_response(403, "FORBIDDEN", "a viewer may change only their own password");
        }
        if (self && !old_pwd) return bad_request("old_pwd is required to change your own");
        if (!new_pwd) return bad_request("new_pwd is required");
        if (!admins.user(name)) return failed(Admins::Error::NotFound, "user " + name);
        if (old_pwd) {
          Response r = check(c.request, name, *old_pwd);
          if (r.status == 401) return bad_request(Admins::message(Admins::Error::WrongPassword));
          if (r.status != 200) return r;  // 429: locked, as a login would be
        }
        auto e = admins.set_password(name, *new_pwd);
        wipe(*new_pwd);
        if (e != Admins::Error::None) return failed(e, "user " + name);
        return no_content();
      },
      Access::Anyone);
}

void add_key_routes(RouteTable& t, Admins& admins) {
  t.add("GET", "/api/v5/api_key", "the API keys made through the API", [&admins](const Call&) {
    json::array out;
    for (const auto& k : admins.keys())
      out.push_back(key_json(k));
    return json_response(200, out);
  });
  t.add("POST", "/api/v5/api_key",
        "make an API key: {\"name\", \"desc\", \"enable\", \"expired_at\", \"role\"}; the "
        "answer holds its secret, once",
        [&admins](const Call& c) {
          auto o = parse_object(c.request.body);
          if (!o) return bad_request("expected a JSON object");
          std::optional<std::string> name, desc;
          std::optional<Role> role;
          std::optional<std::int64_t> expiry;
          if (auto bad = read_text(*o, "name", name)) return *bad;
          if (auto bad = read_text(*o, "desc", desc)) return *bad;
          if (auto bad = read_role(*o, role)) return *bad;
          if (auto bad = read_expiry(*o, expiry)) return *bad;
          const json::value* enable = o->if_contains("enable");
          if (enable != nullptr && !enable->is_bool())
            return bad_request("enable must be true or false");
          if (!name) return bad_request("name is required");
          Admins::Key k;
          k.name = *name;
          k.desc = desc.value_or("");
          k.enable = enable == nullptr || enable->get_bool();
          k.expired_at = expiry.value_or(0);
          k.role = role.value_or(Role::Administrator);
          std::string secret;
          if (auto e = admins.add_key(k, secret); e != Admins::Error::None) {
            return failed(e, "API key " + *name);
          }
          json::object out = key_json(k);
          out["api_secret"] = secret;
          wipe(secret);
          return json_response(200, out);
        });
  t.add("GET", "/api/v5/api_key/{name}", "one API key", [&admins](const Call& c) {
    auto k = admins.key(c.params[0]);
    if (!k) return failed(Admins::Error::NotFound, "API key " + c.params[0]);
    return json_response(200, key_json(*k));
  });
  t.add("PUT", "/api/v5/api_key/{name}",
        "change an API key: {\"enable\", \"desc\", \"expired_at\"}", [&admins](const Call& c) {
          auto o = parse_object(c.request.body);
          if (!o) return bad_request("expected a JSON object");
          std::optional<std::string> desc;
          std::optional<std::int64_t> expiry;
          if (auto bad = read_text(*o, "desc", desc)) return *bad;
          if (auto bad = read_expiry(*o, expiry)) return *bad;
          std::optional<bool> enable;
          if (const json::value* e = o->if_contains("enable")) {
            if (!e->is_bool()) return bad_request("enable must be true or false");
            enable = e->get_bool();
          }
          const std::string& name = c.params[0];
          if (auto e = admins.update_key(name, enable, desc, expiry); e != Admins::Error::None) {
            return failed(e, "API key " + name);
          }
          return json_response(200, key_json(*admins.key(name)));
        });
  t.add("DELETE", "/api/v5/api_key/{name}", "delete an API key", [&admins](const Call& c) {
    if (auto e = admins.delete_key(c.params[0]); e != Admins::Error::None) {
      return failed(e, "API key " + c.params[0]);
    }
    return no_content();
  });
}

}  // namespace

void add_admin_routes(RouteTable& t, Admins& admins, PasswordCheck check) {
  add_user_routes(t, admins, check);
  add_key_routes(t, admins);
}

}  // namespace emqxd::api
