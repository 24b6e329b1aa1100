// The fields of the pgsql, mysql and redis connectors and actions (EMQX 5's), read into
// ConnectorConfig::db and ActionConfig::sql / command_template (connectors/database.hpp
// runs them). connector_keys.cpp reads the fields every type shares and calls these for
// the rest.
#include "config/schema.hpp"
#include "rules/template.hpp"

namespace emqxd::config::detail {

namespace {

// A field of connectors.redis.<name>.parameters (or, as EMQX 5.4 also took them, of the
// connector itself: pool_size, username, password, database).
bool redis_field(const hocon::Field& f, const std::string& k, ConnectorConfig& c) {
  DbConfig& d = c.db;
  if (read_redis_mode_field(f, k, d)) return true;
  if (f.key == "server") {
    d.server = get_string(f.value, k);
    if (d.server.empty()) fail(f.value, k, "must not be empty (host[:port])");
  } else if (f.key == "database") {
    d.database = std::to_string(get_int(f.value, k, 0, 1'000'000));
  } else if (f.key == "username") {
    d.username = get_string(f.value, k);
  } else if (f.key == "password") {
    d.password = get_string(f.value, k);
  } else if (f.key == "pool_size") {
    d.pool_size = static_cast<std::uint32_t>(get_int(f.value, k, 1, 1024));
  } else if (f.key == "auto_reconnect") {
    (void)get_bool(f.value, k);  // deprecated in EMQX; emqxd always reconnects
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool read_db_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c) {
  const std::string k = key + "." + f.key;
  DbConfig& d = c.db;
  if (f.key == "ssl") {
    if (c.type == "redis") {
      refuse_tls(f.value, k, c.type);
    } else {
      read_db_ssl(f.value, k, d);
    }
    return true;
  }
  if (c.type == "redis") {
    if (f.key == "parameters") {
      if (!f.value.is_object()) fail(f.value, k, "expected an object");
      for (const auto& p : f.value.fields()) {
        if (!redis_field(p, k + "." + p.key, c)) {
          fail(p.value, k + "." + p.key,
               "unknown key (redis_type, server, servers, sentinel, database, username, "
               "password, pool_size)");
        }
      }
      return true;
    }
    return f.key != "redis_type" && f.key != "server" && f.key != "servers" &&
           f.key != "sentinel" && redis_field(f, k, c);
  }
  if (f.key == "server") {
    d.server = get_string(f.value, k);
    if (d.server.empty()) fail(f.value, k, "must not be empty (host[:port])");
  } else if (f.key == "database") {
    d.database = get_string(f.value, k);
    if (d.database.empty()) fail(f.value, k, "must not be empty");
  } else if (f.key == "username") {
    d.username = get_string(f.value, k);
  } else if (f.key == "password") {
    d.password = get_string(f.value, k);
  } else if (f.key == "pool_size") {
    d.pool_size = static_cast<std::uint32_t>(get_int(f.value, k, 1, 1024));
  } else if (f.key == "auto_reconnect") {
    (void)get_bool(f.value, k);  // deprecated in EMQX; emqxd always reconnects
  } else if (f.key == "disable_prepared_statements" && c.type == "pgsql") {
    // emqxd sends unnamed statements with parameters (what PgBouncer's transaction pooling
    // allows), whatever this says.
    (void)get_bool(f.value, k);
  } else {
    return false;
  }
  return true;
}

void check_db_connector(const Value& obj, const std::string& key, ConnectorConfig& c) {
  if (c.type == "redis") {
    check_redis(obj, key + ".parameters", key + ".parameters.server", c.db);
    if (c.db.database.empty()) c.db.database = "0";
    return;
  }
  if (c.db.server.empty()) fail(obj, key + ".server", "required (host[:port])");
  if (c.db.database.empty()) fail(obj, key + ".database", "required");
  if (c.type == "pgsql" && c.db.username.empty()) fail(obj, key + ".username", "required");
  if (c.type == "mysql" && c.db.username.empty()) c.db.username = "root";  // EMQX's default
}

bool read_db_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a) {
  const std::string k = key + "." + p.key;
  if (a.type == "redis") {
    if (p.key == "command_template") {
      if (!p.value.is_array() || p.value.elements().empty())
        fail(p.value, k,
             "expected a list of the command's words, e.g. [\"RPUSH\", \"msgs\", \"${payload}\"]");
      for (std::size_t i = 0; i < p.value.elements().size(); ++i)
        a.command_template.push_back(
            get_template(p.value.elements()[i], k + "[" + std::to_string(i + 1) + "]"));
    } else if (p.key == "redis_type") {
      (void)get_enum(p.value, k, {"single", "sentinel", "cluster"});  // the connector's decides
    } else {
      return false;
    }
    return true;
  }
  if (p.key == "sql") {
    a.sql = get_template(p.value, k);
    if (a.sql.find_first_not_of(" \t\r\n") == std::string::npos) fail(p.value, k, "empty");
  } else if (p.key == "undefined_vars_as_null" && a.type == "mysql") {
    (void)get_bool(p.value, k);  // emqxd binds parameters: a missing value is always NULL
  } else {
    return false;
  }
  return true;
}

void check_db_action(const Value& obj, const std::string& key, const ActionConfig& a) {
  if (a.type == "redis" && a.command_template.empty())
    fail(obj, key + ".parameters.command_template", "required");
  if (a.type != "redis" && a.sql.empty()) fail(obj, key + ".parameters.sql", "required");
}

namespace {

// "host", "host:port" or "[v6]:port", as db::split_server reads it.
bool valid_server(std::string_view s) {
  std::string_view port;
  if (s.starts_with('[')) {
    const auto close = s.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    std::string_view rest = s.substr(close + 1);
    if (rest.empty()) return true;
    if (rest.front() != ':') return false;
    port = rest.substr(1);
  } else if (const auto colon = s.rfind(':'); colon != std::string_view::npos) {
    if (s.find(':') != colon || colon == 0) return false;
    port = s.substr(colon + 1);
  } else {
    return !s.empty();
  }
  if (port.empty() || port.size() > 5) return false;
  std::uint32_t p = 0;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return false;
    p = p * 10 + static_cast<std::uint32_t>(ch - '0');
  }
  return p >= 1 && p <= 65535;
}

}  // namespace

bool read_redis_mode_field(const hocon::Field& f, const std::string& k, DbConfig& d) {
  if (f.key == "redis_type") {
    d.redis_type = get_enum(f.value, k, {"single", "sentinel", "cluster"});
  } else if (f.key == "sentinel") {
    d.sentinel = get_string(f.value, k);
    if (d.sentinel.empty()) fail(f.value, k, "must not be empty (the master's name)");
  } else if (f.key == "servers") {
    std::vector<std::string> list;
    if (f.value.is_array()) {
      for (std::size_t i = 0; i < f.value.elements().size(); ++i)
        list.push_back(get_string(f.value.elements()[i], k + "[" + std::to_string(i + 1) + "]"));
    } else {
      const std::string all = get_string(f.value, k);
      std::size_t at = 0;
      for (;;) {
        const auto comma = all.find(',', at);
        std::string one = all.substr(at, comma == std::string::npos ? comma : comma - at);
        one.erase(0, one.find_first_not_of(' '));
        one.erase(one.find_last_not_of(' ') + 1);
        list.push_back(std::move(one));
        if (comma == std::string::npos) break;
        at = comma + 1;
      }
    }
    d.servers.clear();
    for (const auto& one : list) {
      if (!valid_server(one))
        fail(f.value, k, "expected host[:port] entries separated by commas, got " + shown(f.value));
      d.servers += (d.servers.empty() ? "" : ",") + one;
    }
  } else {
    return false;
  }
  return true;
}

void check_redis(const Value& obj, const std::string& key, const std::string& server_key,
                 DbConfig& d) {
  if (d.redis_type == "single") {
    if (d.server.empty()) fail(obj, server_key, "required (host[:port])");
    if (!d.servers.empty() || !d.sentinel.empty())
      fail(obj, key + (d.sentinel.empty() ? ".servers" : ".sentinel"),
           "applies to redis_type = sentinel or cluster, not single");
    return;
  }
  if (!d.server.empty())
    fail(obj, server_key, "applies to redis_type = single; " + d.redis_type + " reads servers");
  if (d.servers.empty()) fail(obj, key + ".servers", "required for redis_type = " + d.redis_type);
  if (d.redis_type == "sentinel" && d.sentinel.empty())
    fail(obj, key + ".sentinel", "required for redis_type = sentinel (the master's name)");
  if (d.redis_type == "cluster") {
    if (!d.sentinel.empty()) fail(obj, key + ".sentinel", "applies to redis_type = sentinel");
    if (!d.database.empty() && d.database != "0")
      fail(obj, key + ".database", "a Redis Cluster has database 0 only");
  }
}

void read_db_ssl(const Value& v, const std::string& key, DbConfig& d) {
  read_client_ssl(v, key, d.ssl);
  if (d.ssl.server_name_indication != "" && d.ssl.server_name_indication != "disable") {
    fail(v, key + ".server_name_indication",
         "a database's certificate is checked against the server's host: leave it out, or "
         "\"disable\" the name check");
  }
}

// The ssl block of a connector emqxd speaks no TLS to yet: only enable = false passes.
void refuse_tls(const Value& v, const std::string& key, const std::string& type) {
  if (!v.is_object()) fail(v, key, "expected an object");
  for (const auto& s : v.fields()) {
    if (s.key == "enable") {
      if (get_bool(s.value, key + ".enable")) {
        fail(s.value, key + ".enable",
             "TLS to " + type + " is not implemented yet by emqxd (ssl.enable = false)");
      }
    } else if (s.key != "verify" && s.key != "server_name_indication") {
      fail(s.value, key + "." + s.key, "not implemented yet by emqxd (no TLS to " + type + ")");
    }
  }
}

}  // namespace emqxd::config::detail
