// `authentication = [ {...}, ... ]`: EMQX 5's authentication chain, an array of objects
// whose fields depend on each entry's mechanism and backend. The key table (keys.cpp)
// hands the whole array here; each object is read with its own field table, so an unknown
// field, a missing one or a mechanism emqxd does not implement yet stops start-up naming
// FILE:LINE and "authentication[N].field" (N from 1, as EMQX numbers the chain).
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

#include "config/schema.hpp"

namespace emqxd::config::detail {

// ----------------------------------------------------------------------------- HTTP clients
// Shared with the http authorization source (authz_http_keys.cpp).

void check_placeholders(const Value& v, const std::string& key, const std::string& text,
                        std::span<const std::string_view> known) {
  for (auto at = text.find("${"); at != std::string::npos; at = text.find("${", at + 2)) {
    auto end = text.find('}', at);
    std::string_view p = end == std::string::npos ? std::string_view(text).substr(at)
                                                  : std::string_view(text).substr(at, end - at + 1);
    if (std::find(known.begin(), known.end(), p) == known.end()) {
      std::string names;
      for (auto k : known)
        names += (names.empty() ? "" : ", ") + std::string(k);
      fail(v, key, "unknown placeholder " + std::string(p) + " (known: " + names + ")");
    }
  }
}

std::vector<std::pair<std::string, std::string>> string_map(
    const Value& v, const std::string& key, std::span<const std::string_view> placeholders) {
  if (!v.is_object()) fail(v, key, "expected an object of name = \"value\"");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : v.fields()) {
    std::string value = get_string(f.value, key + "." + f.key);
    if (!placeholders.empty()) check_placeholders(f.value, key + "." + f.key, value, placeholders);
    out.emplace_back(f.key, std::move(value));
  }
  return out;
}

std::string get_http_url(const Value& v, const std::string& key) {
  std::string url = get_string(v, key);
  const std::size_t scheme = url.starts_with("http://") ? 7 : url.starts_with("https://") ? 8 : 0;
  if (scheme == 0 || url.size() <= scheme || url[scheme] == '/' || url[scheme] == '$') {
    fail(v, key, "expected http[s]://host[:port]/path, got " + shown(v));
  }
  return url;
}

void read_client_ssl(const Value& v, const std::string& key, ClientSslConfig& out) {
  if (!v.is_object()) fail(v, key, "expected an object");
  for (const auto& f : v.fields()) {
    const std::string fk = key + "." + f.key;
    if (f.key == "enable") {
      out.enable = get_bool(f.value, fk);
    } else if (f.key == "verify") {
      out.verify = get_enum(f.value, fk, {"verify_peer", "verify_none"});
    } else if (f.key == "cacertfile" || f.key == "certfile" || f.key == "keyfile") {
      std::string path = get_string(f.value, fk);
      if (!path.empty() && ::access(path.c_str(), R_OK) != 0) {
        fail(f.value, fk, "cannot read " + path + ": " + std::strerror(errno));
      }
      (f.key == "cacertfile" ? out.cacertfile
       : f.key == "certfile" ? out.certfile
                             : out.keyfile) = std::move(path);
    } else if (f.key == "server_name_indication") {
      out.server_name_indication = get_string(f.value, fk);
    } else if (f.key == "versions" || f.key == "ciphers") {
      std::vector<std::string> items;
      if (f.value.is_array()) {
        for (const auto& e : f.value.elements())
          items.push_back(get_string(e, fk));
      } else {
        std::string text = get_string(f.value, fk);
        for (std::size_t at = 0; at <= text.size();) {
          auto comma = std::min(text.find(',', at), text.size());
          std::string item = text.substr(at, comma - at);
          std::erase(item, ' ');
          if (!item.empty()) items.push_back(std::move(item));
          at = comma + 1;
        }
      }
      if (f.key == "versions") {
        if (items.empty()) fail(f.value, fk, "must name at least one version");
        for (const auto& i : items) {
          if (i != "tlsv1.2" && i != "tlsv1.3") {
            fail(f.value, fk,
                 "expected tlsv1.2 or tlsv1.3 (older versions are insecure), got \"" + i + "\"");
          }
        }
        out.versions = std::move(items);
      } else {
        out.ciphers = std::move(items);
      }
    } else if (f.key == "depth" || f.key == "reuse_sessions" || f.key == "secure_renegotiate" ||
               f.key == "hibernate_after" || f.key == "log_level" ||
               f.key == "middlebox_comp_mode") {
      // EMQX's Erlang TLS tuning: nothing to set in OpenSSL's client.
    } else {
      fail(f.value, fk,
           "unknown field of ssl (known: enable, verify, cacertfile, certfile, keyfile, "
           "server_name_indication, versions, ciphers)");
    }
  }
  if (out.certfile.empty() != out.keyfile.empty()) {
    fail(v, key + (out.certfile.empty() ? ".certfile" : ".keyfile"),
         "certfile and keyfile go together (a client certificate and its key)");
  }
}

bool read_http_connection(const Value& v, std::string_view field, const std::string& key,
                          std::uint32_t& pool_size, Duration& connect_timeout,
                          ClientSslConfig& ssl) {
  if (field == "pool_size") {
    pool_size = static_cast<std::uint32_t>(get_int(v, key, 1, 512));
  } else if (field == "connect_timeout") {
    connect_timeout = get_duration_in(v, key, Duration(1), Duration(60'000));
  } else if (field == "enable_pipelining") {
    (void)get_int(v, key, 1, 1'000'000);  // one request at a time per connection here
  } else if (field == "ssl") {
    read_client_ssl(v, key, ssl);
  } else {
    return false;
  }
  return true;
}

namespace {

using Fields = std::map<std::string, const Value*, std::less<>>;

std::string element_key(std::size_t i) {
  return "authentication[" + std::to_string(i + 1) + "]";
}

// The object's fields by name; any name outside `allowed` stops start-up.
Fields fields_of(const Value& obj, const std::string& key,
                 std::initializer_list<std::string_view> allowed, std::string_view what) {
  if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
  Fields out;
  for (const auto& f : obj.fields()) {
    if (std::find(allowed.begin(), allowed.end(), f.key) == allowed.end()) {
      std::string names;
      for (auto a : allowed) {
        if (!names.empty()) names += ", ";
        names += a;
      }
      fail(f.value, key + "." + f.key,
           "unknown field for " + std::string(what) + " (known: " + names + ")");
    }
    out.emplace(f.key, &f.value);
  }
  return out;
}

const Value* field(const Fields& f, std::string_view name) {
  auto it = f.find(name);
  return it == f.end() ? nullptr : it->second;
}

void read_hash(const Value& v, const std::string& key, PasswordHashConfig& h) {
  auto f = fields_of(v, key,
                     {"name", "salt_position", "salt_rounds", "mac_fun", "iterations", "dk_length"},
                     "password_hash_algorithm");
  const Value* name = field(f, "name");
  if (name == nullptr) fail(v, key + ".name", "required");
  h.name = get_enum(*name, key + ".name",
                    {"plain", "md5", "sha", "sha256", "sha512", "bcrypt", "pbkdf2"});
  const bool simple = h.name != "bcrypt" && h.name != "pbkdf2";
  for (const auto& entry : f) {
    const auto& k = entry.first;
    const Value* value = entry.second;  // a plain variable: lambdas may not capture bindings
    const std::string fk = key + "." + k;
    auto only = [&](bool ok, std::string_view for_what) {
      if (!ok) fail(*value, fk, "applies to " + std::string(for_what) + " only");
    };
    if (k == "salt_position") {
      only(simple, "plain, md5, sha, sha256 and sha512");
      h.salt_position = get_enum(*value, fk, {"disable", "prefix", "suffix"});
    } else if (k == "salt_rounds") {
      only(h.name == "bcrypt", "bcrypt");
      h.salt_rounds = static_cast<int>(get_int(*value, fk, 5, 10));
    } else if (k == "mac_fun") {
      only(h.name == "pbkdf2", "pbkdf2");
      h.mac_fun = get_enum(
          *value, fk, {"md4", "md5", "ripemd160", "sha", "sha224", "sha256", "sha384", "sha512"});
    } else if (k == "iterations") {
      only(h.name == "pbkdf2", "pbkdf2");
      h.iterations = static_cast<int>(get_int(*value, fk, 1, 10'000'000));
    } else if (k == "dk_length") {
      only(h.name == "pbkdf2", "pbkdf2");
      h.dk_length = static_cast<int>(get_int(*value, fk, 1, 1024));
    }
  }
  if (h.name == "pbkdf2" && field(f, "iterations") == nullptr) {
    fail(v, key + ".iterations", "required for pbkdf2");
  }
}

void read_built_in_database(const Fields& f, const std::string& key, AuthenticatorConfig& a) {
  for (const auto& [k, value] : f) {
    const std::string fk = key + "." + k;
    if (k == "user_id_type") {
      a.user_id_type = get_enum(*value, fk, {"username", "clientid"});
    } else if (k == "password_hash_algorithm") {
      read_hash(*value, fk, a.password_hash_algorithm);
    } else if (k == "bootstrap_file") {
      a.bootstrap_file = get_string(*value, fk);
    } else if (k == "bootstrap_type") {
      a.bootstrap_type = get_enum(*value, fk, {"plain", "hash"});
    }
  }
}

constexpr std::string_view kAuthnPlaceholders[] = {"${clientid}", "${username}", "${password}",
                                                   "${peerhost}", "${cert_common_name}"};

void check_authn_placeholders(const Value& v, const std::string& key, const std::string& text) {
  detail::check_placeholders(v, key, text, kAuthnPlaceholders);
}

void read_http(const Value& obj, const Fields& f, const std::string& key, AuthenticatorConfig& a) {
  for (const auto& [k, value] : f) {
    const std::string fk = key + "." + k;
    if (k == "method") {
      a.method = get_enum(*value, fk, {"post", "get"});
    } else if (k == "url") {
      a.url = get_http_url(*value, fk);
      check_authn_placeholders(*value, fk, a.url);
    } else if (k == "headers") {
      a.headers = string_map(*value, fk, {});
    } else if (k == "body") {
      a.body = string_map(*value, fk, kAuthnPlaceholders);
    } else if (k == "request_timeout") {
      a.request_timeout = get_duration_in(*value, fk, Duration(1), Duration(60'000));
    } else {
      // fields_of admitted only these
      (void)read_http_connection(*value, k, fk, a.pool_size, a.connect_timeout, a.ssl);
    }
  }
  if (a.url.empty()) fail(obj, key + ".url", "required");
}

// A database's placeholders: EMQX's, for a query or a Redis command. ${password} only
// where a password is checked (authentication).
void check_db_placeholders(const Value& v, const std::string& key, const std::string& text,
                           bool authn) {
  static constexpr std::string_view kKnown[] = {"${username}",     "${clientid}",
                                                "${peerhost}",     "${cert_common_name}",
                                                "${cert_subject}", "${password}"};
  const std::size_t known = authn ? std::size(kKnown) : std::size(kKnown) - 1;
  for (auto at = text.find("${"); at != std::string::npos; at = text.find("${", at + 2)) {
    auto end = text.find('}', at);
    std::string_view p = end == std::string::npos ? std::string_view(text).substr(at)
                                                  : std::string_view(text).substr(at, end - at + 1);
    if (std::find(kKnown, kKnown + known, p) == kKnown + known) {
      fail(v, key,
           "unknown placeholder " + std::string(p) +
               " (known: ${username}, ${clientid}, ${peerhost}, ${cert_common_name}, "
               "${cert_subject}" +
               (authn ? ", ${password})" : ")"));
    }
  }
}

}  // namespace

void read_db_fields(const Value& obj, const std::string& key, const std::string& kind, bool authn,
                    std::initializer_list<std::string_view> common, DbConfig& d) {
  const bool redis = kind == "redis";
  std::vector<std::string_view> allowed(common);
  for (std::string_view f : {"server", "database", "username", "password", "pool_size",
                             "query_timeout", "ssl", "auto_reconnect"})
    allowed.push_back(f);
  allowed.push_back(redis ? "cmd" : "query");
  if (redis) {
    for (std::string_view f : {"redis_type", "servers", "sentinel"})
      allowed.push_back(f);
  }
  if (authn) allowed.push_back("password_hash_algorithm");
  const std::string what = (authn ? "password_based " : "") + kind;
  for (const auto& f : obj.fields()) {
    if (std::find(allowed.begin(), allowed.end(), f.key) == allowed.end()) {
      std::string names;
      for (auto a : allowed)
        names += (names.empty() ? "" : ", ") + std::string(a);
      fail(f.value, key + "." + f.key, "unknown field for " + what + " (known: " + names + ")");
    }
  }
  for (const auto& f : obj.fields()) {
    const std::string fk = key + "." + f.key;
    const Value& v = f.value;
    if (redis && read_redis_mode_field(f, fk, d)) continue;
    if (f.key == "server") {
      d.server = get_string(v, fk);
      if (d.server.empty()) fail(v, fk, "must not be empty (host[:port])");
    } else if (f.key == "database") {
      d.database = redis ? std::to_string(get_int(v, fk, 0, 1'000'000)) : get_string(v, fk);
    } else if (f.key == "username") {
      d.username = get_string(v, fk);
    } else if (f.key == "password") {
      d.password = get_string(v, fk);
    } else if (f.key == "pool_size") {
      d.pool_size = static_cast<std::uint32_t>(get_int(v, fk, 1, 1024));
    } else if (f.key == "query_timeout") {
      d.query_timeout = get_duration_in(v, fk, Duration(1), Duration(60'000));
    } else if (f.key == "auto_reconnect") {
      (void)get_bool(v, fk);  // deprecated in EMQX; emqxd always reconnects
    } else if (f.key == "query" || f.key == "cmd") {
      d.query = get_string(v, fk);
      if (d.query.empty()) fail(v, fk, "must not be empty");
      check_db_placeholders(v, fk, d.query, authn);
      if (redis && authn) {
        // EMQX's form: HMGET key field..., with password_hash (or password) among the fields.
        std::string_view q = d.query;
        const bool hmget =
            q.size() > 6 && (q.substr(0, 6) == "HMGET " || q.substr(0, 6) == "hmget ");
        if (!hmget || (q.find(" password_hash") == std::string_view::npos &&
                       q.find(" password") == std::string_view::npos)) {
          fail(v, fk, "expected HMGET <key> password_hash [salt] [is_superuser], got " + shown(v));
        }
      }
    } else if (f.key == "ssl") {
      if (redis) {
        refuse_tls(v, fk, kind);
      } else {
        read_db_ssl(v, fk, d);
      }
    }
  }
  if (redis) {
    check_redis(obj, key, key + ".server", d);
  } else if (d.server.empty()) {
    fail(obj, key + ".server", "required (host[:port])");
  }
  if (d.query.empty()) fail(obj, key + (redis ? ".cmd" : ".query"), "required");
  if (!redis && d.database.empty()) fail(obj, key + ".database", "required");
}

namespace {

void read_jwt(const Value& obj, const Fields& f, const std::string& key, AuthenticatorConfig& a) {
  for (const auto& [k, value] : f) {
    const std::string fk = key + "." + k;
    if (k == "from") {
      a.from = get_enum(*value, fk, {"password", "username"});
    } else if (k == "use_jwks") {
      a.use_jwks = get_bool(*value, fk);
    } else if (k == "endpoint") {
      a.endpoint = get_http_url(*value, fk);
    } else if (k == "pool_size" || k == "ssl") {
      (void)read_http_connection(*value, k, fk, a.pool_size, a.connect_timeout, a.ssl);
    } else if (k == "refresh_interval") {
      a.refresh_interval = get_duration_in(*value, fk, Duration(1000), Duration(86'400'000));
    } else if (k == "algorithm") {
      a.algorithm = get_enum(*value, fk, {"hmac-based", "public-key"});
    } else if (k == "secret") {
      a.secret = get_string(*value, fk);
    } else if (k == "secret_base64_encoded") {
      a.secret_base64_encoded = get_bool(*value, fk);
    } else if (k == "public_key") {
      a.public_key = get_string(*value, fk);
    } else if (k == "acl_claim_name") {
      a.acl_claim_name = get_string(*value, fk);
    } else if (k == "disconnect_after_expire") {
      a.disconnect_after_expire = get_bool(*value, fk);
    } else if (k == "verify_claims") {
      // EMQX takes an object {claim = "value"} (and, in older versions, a list of pairs).
      if (!value->is_object()) fail(*value, fk, "expected an object of claim = \"value\"");
      for (const auto& c : value->fields()) {
        a.verify_claims.emplace_back(c.key, get_string(c.value, fk + "." + c.key));
      }
    }
  }
  if (a.use_jwks) {
    if (a.endpoint.empty()) fail(obj, key + ".endpoint", "required with use_jwks = true");
    for (const char* k : {"secret", "public_key", "algorithm", "secret_base64_encoded"}) {
      if (const Value* v = field(f, k)) {
        fail(*v, key + "." + k,
             "does not apply with use_jwks = true (the keys come from endpoint)");
      }
    }
    return;
  }
  for (const char* k : {"endpoint", "refresh_interval", "pool_size", "ssl"}) {
    if (const Value* v = field(f, k)) fail(*v, key + "." + k, "applies with use_jwks = true only");
  }
  if (a.algorithm == "hmac-based" && a.secret.empty()) {
    fail(obj, key + ".secret", "required with algorithm = hmac-based");
  }
  if (a.algorithm == "public-key" && a.public_key.empty()) {
    fail(obj, key + ".public_key", "required with algorithm = public-key");
  }
  if (a.algorithm == "hmac-based" && field(f, "public_key") != nullptr) {
    fail(*field(f, "public_key"), key + ".public_key", "applies to algorithm = public-key only");
  }
  if (a.algorithm == "public-key" && field(f, "secret") != nullptr) {
    fail(*field(f, "secret"), key + ".secret", "applies to algorithm = hmac-based only");
  }
}

}  // namespace

void authentication_chain(const In& in) {
  auto& chain = in.cfg().authentication;
  chain.clear();
  // EMQX also takes a single object for a chain of one.
  std::vector<const Value*> elements;
  if (in.v.is_object()) {
    elements.push_back(&in.v);
  } else if (in.v.is_array()) {
    for (const auto& e : in.v.elements())
      elements.push_back(&e);
  } else {
    in.fail("expected an array of authenticators, got " + shown(in.v));
  }
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const Value& obj = *elements[i];
    const std::string key = element_key(i);
    if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
    const Value* mechanism = obj.find("mechanism");
    if (mechanism == nullptr) fail(obj, key + ".mechanism", "required (password_based or jwt)");
    AuthenticatorConfig a;
    a.key = key;
    a.origin = obj.origin().to_string();
    a.mechanism = get_enum(*mechanism, key + ".mechanism",
                           {"password_based", "jwt", "scram", "gcp_device", "cinfo"});
    if (a.mechanism != "password_based" && a.mechanism != "jwt" && a.mechanism != "scram") {
      fail(*mechanism, key + ".mechanism",
           "not implemented yet by emqxd (password_based, jwt and scram are)");
    }
    if (a.mechanism == "scram") {
      auto f = fields_of(
          obj, key, {"mechanism", "backend", "enable", "algorithm", "iteration_count"}, "scram");
      const Value* backend = field(f, "backend");
      if (backend == nullptr) fail(obj, key + ".backend", "required (built_in_database)");
      a.backend = get_enum(*backend, key + ".backend", {"built_in_database"});
      if (const Value* v = field(f, "algorithm")) {
        a.scram_algorithm = get_enum(*v, key + ".algorithm", {"sha256", "sha512"});
      }
      if (const Value* v = field(f, "iteration_count")) {
        a.iteration_count = static_cast<int>(get_int(*v, key + ".iteration_count", 1, 1'000'000));
      }
      if (const Value* e = field(f, "enable")) a.enable = get_bool(*e, key + ".enable");
      chain.push_back(std::move(a));
      continue;
    }
    if (a.mechanism == "password_based") {
      const Value* backend = obj.find("backend");
      if (backend == nullptr) fail(obj, key + ".backend", "required (built_in_database)");
      a.backend = get_enum(
          *backend, key + ".backend",
          {"built_in_database", "http", "postgresql", "mysql", "redis", "mongodb", "ldap"});
      if (a.backend == "http") {
        auto f = fields_of(
            obj, key,
            {"mechanism", "backend", "enable", "method", "url", "headers", "body",
             "connect_timeout", "request_timeout", "pool_size", "enable_pipelining", "ssl"},
            "password_based http");
        read_http(obj, f, key, a);
        if (const Value* e = field(f, "enable")) a.enable = get_bool(*e, key + ".enable");
        chain.push_back(std::move(a));
        continue;
      }
      if (a.backend == "postgresql" || a.backend == "mysql" || a.backend == "redis") {
        read_db_fields(obj, key, a.backend, true, {"mechanism", "backend", "enable"}, a.db);
        if (const Value* h = obj.find("password_hash_algorithm")) {
          read_hash(*h, key + ".password_hash_algorithm", a.password_hash_algorithm);
        }
        if (const Value* e = obj.find("enable")) a.enable = get_bool(*e, key + ".enable");
        chain.push_back(std::move(a));
        continue;
      }
      if (a.backend != "built_in_database") {
        fail(*backend, key + ".backend",
             "not implemented yet by emqxd (built_in_database, http, postgresql, mysql and "
             "redis are)");
      }
      auto f = fields_of(obj, key,
                         {"mechanism", "backend", "enable", "user_id_type",
                          "password_hash_algorithm", "bootstrap_file", "bootstrap_type"},
                         "password_based built_in_database");
      read_built_in_database(f, key, a);
      if (const Value* e = field(f, "enable")) a.enable = get_bool(*e, key + ".enable");
    } else {
      auto f =
          fields_of(obj, key,
                    {"mechanism", "enable", "from", "use_jwks", "algorithm", "secret",
                     "secret_base64_encoded", "public_key", "verify_claims", "acl_claim_name",
                     "disconnect_after_expire", "endpoint", "refresh_interval", "pool_size", "ssl"},
                    "jwt");
      read_jwt(obj, f, key, a);
      if (const Value* e = field(f, "enable")) a.enable = get_bool(*e, key + ".enable");
    }
    chain.push_back(std::move(a));
  }
}

}  // namespace emqxd::config::detail
