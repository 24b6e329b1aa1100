// The influxdb connector's and action's own fields (EMQX 5's: connectors/influxdb.hpp runs
// them). connector_keys.cpp reads the fields every type shares and calls these for the rest.
#include "config/schema.hpp"
#include "rules/line_protocol.hpp"

namespace emqxd::config::detail {

bool read_influx_connector_field(const hocon::Field& f, const std::string& key,
                                 ConnectorConfig& c) {
  const std::string k = key + "." + f.key;
  InfluxConfig& x = c.influx;
  const Value& v = f.value;
  if (f.key == "server") {
    std::string s = get_string(v, k);
    // EMQX takes the scheme off (TLS is ssl.enable) and a trailing '/'.
    for (std::string_view scheme : {"http://", "https://"}) {
      if (s.starts_with(scheme)) s.erase(0, scheme.size());
    }
    while (!s.empty() && s.back() == '/')
      s.pop_back();
    if (s.empty() || s.find_first_of("/?#@ ") != std::string::npos)
      fail(v, k, "expected host[:port], got " + shown(v));
    x.server = s;
  } else if (f.key == "pool_size") {
    c.pool_size = static_cast<std::uint32_t>(get_int(v, k, 1, 1024));
  } else if (f.key == "ssl") {
    read_client_ssl(v, k, c.ssl);
  } else if (f.key == "max_inactive") {
    (void)get_duration(v, k);  // EMQX's; idle connections are kept here
  } else if (f.key == "parameters") {
    if (!v.is_object()) fail(v, k, "expected an object");
    std::string type = "influxdb_api_v1";
    for (const auto& p : v.fields()) {
      if (p.key == "influxdb_type")
        type = get_enum(p.value, k + ".influxdb_type", {"influxdb_api_v1", "influxdb_api_v2"});
    }
    x.v2 = type == "influxdb_api_v2";
    for (const auto& p : v.fields()) {
      const std::string pk = k + "." + p.key;
      if (p.key == "influxdb_type") continue;
      if (!x.v2 && p.key == "database") {
        x.database = get_string(p.value, pk);
        if (x.database.empty()) fail(p.value, pk, "must not be empty");
      } else if (!x.v2 && p.key == "username") {
        x.username = get_string(p.value, pk);
      } else if (!x.v2 && p.key == "password") {
        x.password = get_string(p.value, pk);
      } else if (x.v2 && p.key == "bucket") {
        x.bucket = get_string(p.value, pk);
      } else if (x.v2 && p.key == "org") {
        x.org = get_string(p.value, pk);
      } else if (x.v2 && p.key == "token") {
        x.token = get_string(p.value, pk);
      } else {
        fail(p.value, pk,
             x.v2 ? "unknown key for influxdb_api_v2 (influxdb_type, bucket, org, token)"
                  : "unknown key for influxdb_api_v1 (influxdb_type, database, username, "
                    "password)");
      }
    }
  } else {
    return false;
  }
  return true;
}

void check_influx_connector(const Value& obj, const std::string& key, ConnectorConfig& c) {
  InfluxConfig& x = c.influx;
  if (x.server.empty()) x.server = "127.0.0.1:8086";  // EMQX's default
  const std::string p = key + ".parameters";
  if (!x.v2 && x.database.empty()) fail(obj, p + ".database", "required");
  if (x.v2) {
    if (x.bucket.empty()) fail(obj, p + ".bucket", "required");
    if (x.org.empty()) fail(obj, p + ".org", "required");
    if (x.token.empty()) fail(obj, p + ".token", "required");
  }
  // Written over an HTTP pool, as EMQX's client does: the URL it opens.
  std::string host_port = x.server;
  const bool bracketed = host_port.starts_with('[');
  const auto colon = host_port.rfind(':');
  const bool has_port = colon != std::string::npos && (!bracketed || colon > host_port.find(']')) &&
                        (bracketed || host_port.find(':') == colon);
  if (!has_port) host_port += ":8086";
  c.url = std::string(c.ssl.enable ? "https://" : "http://") + host_port;
}

bool read_influx_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a) {
  const std::string k = key + "." + p.key;
  if (p.key == "write_syntax") {
    a.write_syntax = get_string(p.value, k);
    std::string error;
    if (!rules::LineProtocol::parse(a.write_syntax, error)) fail(p.value, k, error);
  } else if (p.key == "precision") {
    a.precision = get_enum(p.value, k, {"ns", "us", "ms", "s"});
  } else {
    return false;
  }
  return true;
}

void check_influx_action(const Value& obj, const std::string& key, const ActionConfig& a) {
  if (a.write_syntax.empty()) fail(obj, key + ".parameters.write_syntax", "required");
}

}  // namespace emqxd::config::detail
