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
  if (f.key == "redis_type") {
    d.redis_type = get_enum(f.value, k, {"single", "sentinel", "cluster"});
    if (d.redis_type != "single") {
      fail(f.value, k,
           "redis_type = " + d.redis_type + " is not implemented yet by emqxd (single is)");
    }
  } else if (f.key == "server") {
    d.server = get_string(f.value, k);
    if (d.server.empty()) fail(f.value, k, "must not be empty (host[:port])");
  } else if (f.key == "servers" || f.key == "sentinel") {
    fail(f.value, k, "applies to redis_type = sentinel or cluster, not implemented yet");
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
    refuse_tls(f.value, k, c.type);
    return true;
  }
  if (c.type == "redis") {
    if (f.key == "parameters") {
      if (!f.value.is_object()) fail(f.value, k, "expected an object");
      for (const auto& p : f.value.fields()) {
        if (!redis_field(p, k + "." + p.key, c)) {
          fail(p.value, k + "." + p.key,
               "unknown key (redis_type, server, database, username, password, pool_size)");
        }
      }
      return true;
    }
    return f.key != "redis_type" && f.key != "server" && redis_field(f, k, c);
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
  if (c.db.server.empty()) {
    fail(obj, key + (c.type == "redis" ? ".parameters.server" : ".server"),
         "required (host[:port])");
  }
  if (c.type == "redis") {
    if (c.db.database.empty()) c.db.database = "0";
    return;
  }
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
