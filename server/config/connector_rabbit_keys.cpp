// The rabbitmq connector's and action's own fields (EMQX 5's: connectors/rabbitmq.hpp runs
// them). connector_keys.cpp reads the fields every type shares and calls these for the rest.
#include "config/schema.hpp"

namespace emqxd::config::detail {

bool read_rabbit_connector_field(const hocon::Field& f, const std::string& key,
                                 ConnectorConfig& c) {
  const std::string k = key + "." + f.key;
  RabbitConfig& r = c.rabbit;
  const Value& v = f.value;
  if (f.key == "server") {
    r.server = get_string(v, k);
    if (r.server.empty() || r.server.find_first_of(":/ ") != std::string::npos)
      fail(v, k, "expected a host name or address (the port is `port`), got " + shown(v));
  } else if (f.key == "port") {
    r.port = static_cast<std::uint16_t>(get_int(v, k, 1, 65535));
  } else if (f.key == "username") {
    r.username = get_string(v, k);
  } else if (f.key == "password") {
    r.password = get_string(v, k);
  } else if (f.key == "virtual_host") {
    r.virtual_host = get_string(v, k);
    if (r.virtual_host.empty()) fail(v, k, "must not be empty (the default is \"/\")");
  } else if (f.key == "heartbeat") {
    r.heartbeat = get_duration_in(v, k, Duration(0), Duration(65'535'000));
  } else if (f.key == "timeout") {
    r.timeout = get_duration_in(v, k, Duration(1), Duration(3'600'000));
  } else if (f.key == "pool_size") {
    c.pool_size = static_cast<std::uint32_t>(get_int(v, k, 1, 1024));
  } else if (f.key == "ssl") {
    read_client_ssl(v, k, r.ssl);
    if (!r.ssl.server_name_indication.empty() && r.ssl.server_name_indication != "disable")
      fail(v, k + ".server_name_indication",
           "rabbitmq-c checks the broker's certificate against the server's host: leave it "
           "out, or \"disable\" the name check");
  } else if (f.key == "auto_reconnect") {
    (void)get_bool(v, k);  // emqxd always reconnects
  } else {
    return false;
  }
  return true;
}

void check_rabbit_connector(const Value& obj, const std::string& key, ConnectorConfig& c) {
  if (c.rabbit.username.empty()) fail(obj, key + ".username", "required");
  if (c.rabbit.password.empty()) fail(obj, key + ".password", "required");
}

bool read_rabbit_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a) {
  const std::string k = key + "." + p.key;
  if (p.key == "exchange") {
    a.rabbit_exchange = get_template(p.value, k);
  } else if (p.key == "routing_key") {
    a.rabbit_routing_key = get_template(p.value, k);
  } else if (p.key == "payload_template") {
    a.rabbit_payload = get_template(p.value, k);
    if (a.rabbit_payload->empty()) a.rabbit_payload.reset();  // EMQX: the output as JSON
  } else if (p.key == "delivery_mode") {
    a.rabbit_persistent = get_enum(p.value, k, {"non_persistent", "persistent"}) == "persistent";
  } else if (p.key == "wait_for_publish_confirmations") {
    a.rabbit_confirms = get_bool(p.value, k);
  } else if (p.key == "publish_confirmation_timeout") {
    a.rabbit_confirm_timeout = get_duration_in(p.value, k, Duration(1), Duration(3'600'000));
  } else {
    return false;
  }
  return true;
}

void check_rabbit_action(const Value& obj, const std::string& key, const ActionConfig&) {
  // EMQX requires both, an empty one included ("" is AMQP's default exchange).
  for (const char* name : {"exchange", "routing_key"}) {
    bool given = false;
    for (const auto& f : obj.fields()) {
      if (f.key != "parameters" || !f.value.is_object()) continue;
      for (const auto& p : f.value.fields())
        given = given || p.key == name;
    }
    if (!given) fail(obj, key + ".parameters." + name, "required");
  }
}

}  // namespace emqxd::config::detail
