#include "api/access_api.hpp"

#include <boost/json.hpp>

#include "api/router.hpp"
#include "auth/builtin_db.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

constexpr std::size_t kMaxUserIdBytes = 256;
constexpr std::size_t kMaxPasswordBytes = 1024;

std::optional<json::object> body_object(const std::string& body) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.get_object());
}

Response bad_request(std::string_view message) {
  return error_response(400, "BAD_REQUEST", message);
}

json::object user_json(const auth::UserDatabase::UserInfo& u) {
  return json::object{{"user_id", u.user_id}, {"is_superuser", u.is_superuser}};
}

// {"is_superuser": true} or absent; a 400 for anything else.
std::optional<Response> read_superuser(const json::object& o, std::optional<bool>& out) {
  if (auto* s = o.if_contains("is_superuser")) {
    if (!s->is_bool()) return bad_request("is_superuser must be true or false");
    out = s->get_bool();
  }
  return std::nullopt;
}

std::optional<Response> read_password(const json::object& o, std::optional<std::string>& out) {
  if (auto* p = o.if_contains("password")) {
    if (!p->is_string() || p->get_string().empty() || p->get_string().size() > kMaxPasswordBytes) {
      return bad_request("password must be a non-empty string of at most 1024 bytes");
    }
    out = std::string(p->get_string());
  }
  return std::nullopt;
}

void add_user_routes(RouteTable& t, const session::NodeState& node) {
  // The authenticator {id} of the chain, or the answer to give.
  auto db_of = [&node](const Call& c, const auth::UserDatabase*& db) -> std::optional<Response> {
    db = node.authentication ? node.authentication->users(c.params[0]) : nullptr;
    if (db != nullptr) return std::nullopt;
    return error_response(404, "NOT_FOUND",
                          "no built-in database authenticator " + c.params[0] +
                              " in the authentication chain (password_based:built_in_database "
                              "or scram:built_in_database)");
  };
  t.add("GET", "/api/v5/authentication/{id}/users", "users of a built-in database",
        [db_of](const Call& c) {
          const auth::UserDatabase* db = nullptr;
          if (auto r = db_of(c, db)) return std::move(*r);
          std::size_t page = 0, limit = 0;
          if (auto r = paging(c.target, page, limit)) return std::move(*r);
          auth::UserDatabase::Filter f;
          f.like_user_id = query_param(c.target, "like_user_id").value_or("");
          if (auto s = query_param(c.target, "is_superuser")) {
            if (*s != "true" && *s != "false")
              return bad_request("is_superuser must be true or false");
            f.is_superuser = *s == "true";
          }
          auto p = db->list(f, page, limit);
          json::array data;
          for (const auto& u : p.users)
            data.push_back(user_json(u));
          return json_response(200, json::object{{"data", std::move(data)},
                                                 {"meta", page_meta(page, limit, p.count)}});
        });
  t.add("POST", "/api/v5/authentication/{id}/users", "add a user to a built-in database",
        [db_of](const Call& c) {
          const auth::UserDatabase* db = nullptr;
          if (auto r = db_of(c, db)) return std::move(*r);
          auto o = body_object(c.request.body);
          if (!o)
            return bad_request(
                "expected a JSON object {\"user_id\", \"password\", \"is_superuser\"}");
          auto* id = o->if_contains("user_id");
          if (id == nullptr || !id->is_string() || id->get_string().empty() ||
              id->get_string().size() > kMaxUserIdBytes) {
            return bad_request("user_id must be a non-empty string of at most 256 bytes");
          }
          std::optional<std::string> password;
          std::optional<bool> superuser;
          if (auto r = read_password(*o, password)) return std::move(*r);
          if (!password) return bad_request("password is required");
          if (auto r = read_superuser(*o, superuser)) return std::move(*r);
          const std::string user_id(id->get_string());
          switch (db->add(user_id, *password, superuser.value_or(false))) {
            case auth::UserDatabase::Outcome::Ok:
              return json_response(201, user_json({user_id, superuser.value_or(false)}));
            case auth::UserDatabase::Outcome::Exists:
              return error_response(409, "ALREADY_EXISTS", "user " + user_id + " exists already");
            default:
              return error_response(400, "BAD_REQUEST", "the database is full");
          }
        });
  t.add("GET", "/api/v5/authentication/{id}/users/{user_id}", "one user of a built-in database",
        [db_of](const Call& c) {
          const auth::UserDatabase* db = nullptr;
          if (auto r = db_of(c, db)) return std::move(*r);
          auto u = db->get(c.params[1]);
          if (!u) return error_response(404, "NOT_FOUND", "no user " + c.params[1]);
          return json_response(200, user_json(*u));
        });
  t.add("PUT", "/api/v5/authentication/{id}/users/{user_id}",
        "change a user's password or superuser flag", [db_of](const Call& c) {
          const auth::UserDatabase* db = nullptr;
          if (auto r = db_of(c, db)) return std::move(*r);
          auto o = body_object(c.request.body);
          if (!o) return bad_request("expected a JSON object {\"password\", \"is_superuser\"}");
          std::optional<std::string> password;
          std::optional<bool> superuser;
          if (auto r = read_password(*o, password)) return std::move(*r);
          if (auto r = read_superuser(*o, superuser)) return std::move(*r);
          std::optional<std::string_view> pw;
          if (password) pw = *password;
          if (db->update(c.params[1], pw, superuser) != auth::UserDatabase::Outcome::Ok) {
            return error_response(404, "NOT_FOUND", "no user " + c.params[1]);
          }
          return json_response(200, user_json(*db->get(c.params[1])));
        });
  t.add("DELETE", "/api/v5/authentication/{id}/users/{user_id}",
        "remove a user from a built-in database", [db_of](const Call& c) {
          const auth::UserDatabase* db = nullptr;
          if (auto r = db_of(c, db)) return std::move(*r);
          if (db->erase(c.params[1]) != auth::UserDatabase::Outcome::Ok) {
            return error_response(404, "NOT_FOUND", "no user " + c.params[1]);
          }
          Response r;
          r.status = 204;
          return r;
        });
}

}  // namespace

void add_access_routes(RouteTable& table, const session::NodeState& node) {
  add_user_routes(table, node);
}

}  // namespace emqxd::api
