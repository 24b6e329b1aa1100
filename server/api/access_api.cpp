#include "api/access_api.hpp"

#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <ctime>

#include "api/router.hpp"
#include "auth/authz_builtin.hpp"
#include "auth/builtin_db.hpp"
#include "common/time_text.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

using time_text::parse_rfc3339;
using time_text::rfc3339;

constexpr std::size_t kMaxUserIdBytes = 256;
constexpr std::size_t kMaxPasswordBytes = 1024;

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
          auto o = parse_object(c.request.body);
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
          auto o = parse_object(c.request.body);
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
          return no_content();
        });
}

// ---------------------------------------------------------------- banned

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json::object banned_json(const session::Banned::Entry& e) {
  return json::object{
      {"as", session::Banned::name(e.as)},
      {"who", e.who},
      {"by", e.by},
      {"reason", e.reason},
      {"at", rfc3339(e.at)},
      {"until", e.until ? json::value(rfc3339(*e.until)) : json::value("infinity")}};
}

void add_banned_routes(RouteTable& t, const session::NodeState& node) {
  // NodeState is shared; its Banned is internally locked.
  auto& banned = const_cast<session::Banned&>(node.banned);
  t.add("GET", "/api/v5/banned", "banned clients (expired entries are removed first)",
        [&banned](const Call& c) {
          std::size_t page = 0, limit = 0;
          if (auto r = paging(c.target, page, limit)) return std::move(*r);
          banned.sweep(now_s());
          auto all = banned.list();
          json::array data;
          for (std::size_t i = (page - 1) * limit; i < all.size() && data.size() < limit; ++i)
            data.push_back(banned_json(all[i]));
          return json_response(200, json::object{{"data", std::move(data)},
                                                 {"meta", page_meta(page, limit, all.size())}});
        });
  t.add("POST", "/api/v5/banned",
        "ban a client id, username, address, regex or CIDR until a time (or for ever)",
        [&banned](const Call& c) {
          auto o = parse_object(c.request.body);
          if (!o) return bad_request("expected a JSON object {\"as\", \"who\", ...}");
          auto text = [&](std::string_view k) -> std::optional<std::string> {
            auto* v = o->if_contains(k);
            if (v == nullptr || !v->is_string()) return std::nullopt;
            return std::string(v->get_string());
          };
          session::Banned::Entry e;
          auto as = text("as");
          auto kind = as ? session::Banned::as_of(*as) : std::nullopt;
          if (!kind) {
            return bad_request(
                "as must be clientid, username, peerhost, clientid_re, username_re or "
                "peerhost_net");
          }
          e.as = *kind;
          auto who = text("who");
          if (!who || who->empty() || who->size() > 1024) {
            return bad_request("who must be a non-empty string of at most 1024 bytes");
          }
          e.who = *who;
          for (const char* k : {"by", "reason", "at", "until"}) {
            if (auto* v = o->if_contains(k); v != nullptr && !v->is_string()) {
              return bad_request(std::string(k) + " must be a string");
            }
          }
          e.by = text("by").value_or("mgmt_api").substr(0, 256);
          e.reason = text("reason").value_or("").substr(0, 1024);
          e.at = now_s();
          if (auto at = text("at")) {
            auto v = parse_rfc3339(*at);
            if (!v) return bad_request("at must be an RFC 3339 time (2026-12-05T13:00:00Z)");
            e.at = *v;
          }
          if (auto until = text("until"); until && *until != "infinity") {
            auto v = parse_rfc3339(*until);
            if (!v) {
              return bad_request(
                  "until must be an RFC 3339 time (2026-12-05T13:00:00Z) or \"infinity\"");
            }
            if (*v <= now_s()) return bad_request("until is in the past");
            e.until = *v;
          }
          std::string error;
          switch (banned.create(e, error)) {
            case session::Banned::Outcome::Ok:
              return json_response(200, banned_json(e));
            case session::Banned::Outcome::Exists:
              return error_response(
                  400, "ALREADY_EXISTS",
                  std::string(session::Banned::name(e.as)) + " " + e.who + " is banned already");
            case session::Banned::Outcome::BadWho:
              return bad_request("who: " + error);
            default:
              return bad_request("the banned table is full");
          }
        });
  t.add("DELETE", "/api/v5/banned", "lift every ban", [&banned](const Call&) {
    banned.clear();
    return no_content();
  });
  t.add("DELETE", "/api/v5/banned/{as}/{who}", "lift one ban", [&banned](const Call& c) {
    auto kind = session::Banned::as_of(c.params[0]);
    if (!kind || banned.remove(*kind, c.params[1]) != session::Banned::Outcome::Ok) {
      return error_response(404, "NOT_FOUND", "no such ban: " + c.params[0] + " " + c.params[1]);
    }
    return no_content();
  });
}

// ---------------------------------------------------------------- built-in authorization rules

void add_rule_routes(RouteTable& t, const session::NodeState& node) {
  using Who = auth::BuiltinRules::Who;
  const std::string base = "/api/v5/authorization/sources/built_in_database/rules";
  auth::BuiltinRules* src = node.authorization.builtin_rules();
  auto missing = [] {
    return error_response(404, "NOT_FOUND", "no built_in_database source in authorization.sources");
  };
  // One kind of client: "users" (by username) or "clients" (by client id).
  struct Kind {
    std::string path, field, like;
    Who who;
  };
  for (const Kind& k : {Kind{"users", "username", "like_username", Who::Username},
                        Kind{"clients", "clientid", "like_clientid", Who::ClientId}}) {
    const std::string prefix = auth::BuiltinRules::key_of(k.who, "");
    t.add("GET", base + "/" + k.path, "built-in authorization rules by " + k.field,
          [src, missing, k, prefix](const Call& c) {
            if (src == nullptr) return missing();
            std::size_t page = 0, limit = 0;
            if (auto r = paging(c.target, page, limit)) return std::move(*r);
            const std::string like = query_param(c.target, k.like).value_or("");
            json::array data;
            std::size_t count = 0;
            src->scan(prefix, [&](std::string_view name, const json::value& rules) {
              if (!like.empty() && name.find(like) == std::string_view::npos) return true;
              if (count >= (page - 1) * limit && data.size() < limit) {
                data.push_back(json::object{{k.field, name}, {"rules", rules}});
              }
              ++count;
              return true;
            });
            return json_response(200, json::object{{"data", std::move(data)},
                                                   {"meta", page_meta(page, limit, count)}});
          });
    t.add("POST", base + "/" + k.path, "add rules for one or more " + k.path,
          [src, missing, k](const Call& c) {
            if (src == nullptr) return missing();
            json::error_code ec;
            json::value v = json::parse(c.request.body, ec);
            if (ec || !v.is_array() || v.as_array().empty()) {
              return bad_request("expected a JSON array of {\"" + k.field + "\", \"rules\"}");
            }
            std::vector<std::pair<std::string, const json::value*>> todo;
            for (const auto& e : v.as_array()) {
              const auto* o = e.if_object();
              const auto* name = o ? o->if_contains(k.field) : nullptr;
              const auto* rules = o ? o->if_contains("rules") : nullptr;
              if (name == nullptr || !name->is_string() || name->as_string().empty() ||
                  rules == nullptr) {
                return bad_request("each element needs \"" + k.field + "\" and \"rules\"");
              }
              if (auto why = src->check(*rules); !why.empty()) return bad_request(why);
              todo.emplace_back(auth::BuiltinRules::key_of(k.who, name->as_string()), rules);
            }
            for (const auto& [key, rules] : todo) {
              if (src->get(key)) {
                return error_response(409, "ALREADY_EXISTS", key + " has rules already");
              }
            }
            for (const auto& [key, rules] : todo) {
              if (!src->put(key, *rules)) return bad_request("the rules table is full");
            }
            return no_content();
          });
    t.add("GET", base + "/" + k.path + "/{name}", "the rules of one " + k.field,
          [src, missing, k](const Call& c) {
            if (src == nullptr) return missing();
            auto rules = src->get(auth::BuiltinRules::key_of(k.who, c.params[0]));
            if (!rules) return error_response(404, "NOT_FOUND", "no rules for " + c.params[0]);
            return json_response(200, json::object{{k.field, c.params[0]}, {"rules", *rules}});
          });
    t.add("PUT", base + "/" + k.path + "/{name}", "replace the rules of one " + k.field,
          [src, missing, k](const Call& c) {
            if (src == nullptr) return missing();
            auto o = parse_object(c.request.body);
            const auto* rules = o ? o->if_contains("rules") : nullptr;
            if (rules == nullptr) return bad_request("expected {\"rules\": [...]}");
            if (auto why = src->check(*rules); !why.empty()) return bad_request(why);
            if (!src->put(auth::BuiltinRules::key_of(k.who, c.params[0]), *rules)) {
              return bad_request("the rules table is full");
            }
            return no_content();
          });
    t.add("DELETE", base + "/" + k.path + "/{name}", "remove the rules of one " + k.field,
          [src, missing, k](const Call& c) {
            if (src == nullptr) return missing();
            if (!src->erase(auth::BuiltinRules::key_of(k.who, c.params[0]))) {
              return error_response(404, "NOT_FOUND", "no rules for " + c.params[0]);
            }
            return no_content();
          });
  }
  t.add("GET", base + "/all", "the rules for every client", [src, missing](const Call&) {
    if (src == nullptr) return missing();
    return json_response(200, json::object{{"rules", src->get("all").value_or(json::array{})}});
  });
  t.add("POST", base + "/all", "replace the rules for every client", [src, missing](const Call& c) {
    if (src == nullptr) return missing();
    auto o = parse_object(c.request.body);
    const auto* rules = o ? o->if_contains("rules") : nullptr;
    if (rules == nullptr) return bad_request("expected {\"rules\": [...]}");
    if (auto why = src->check(*rules); !why.empty()) return bad_request(why);
    if (!src->put("all", *rules)) return bad_request("the rules table is full");
    return no_content();
  });
  t.add("DELETE", base + "/all", "remove the rules for every client", [src, missing](const Call&) {
    if (src == nullptr) return missing();
    src->erase("all");
    return no_content();
  });
  t.add("DELETE", base, "remove every built-in rule", [src, missing](const Call&) {
    if (src == nullptr) return missing();
    src->clear();
    return no_content();
  });
}

}  // namespace

void add_access_routes(RouteTable& table, const session::NodeState& node) {
  add_user_routes(table, node);
  add_banned_routes(table, node);
  add_rule_routes(table, node);
}

}  // namespace emqxd::api
