// The http connector's and action's own fields (EMQX's webhook: connectors/http.hpp runs
// them). connector_keys.cpp reads the fields every type shares and calls these for the rest.
#include "config/schema.hpp"

namespace emqxd::config::detail {

namespace {

// EMQX's default headers of an http connector and action.
const std::vector<std::pair<std::string, std::string>>& default_headers() {
  static const std::vector<std::pair<std::string, std::string>> h = {
      {"accept", "application/json"},
      {"cache-control", "no-cache"},
      {"connection", "keep-alive"},
      {"content-type", "application/json"},
      {"keep-alive", "timeout=5"}};
  return h;
}

std::vector<std::pair<std::string, std::string>> read_headers(const Value& v,
                                                              const std::string& key) {
  if (!v.is_object()) fail(v, key, "expected an object of header names and values");
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& f : v.fields()) {
    if (f.key.empty() || f.key.find_first_of(" :\r\n") != std::string::npos)
      fail(f.value, key + "." + f.key, "not a header name");
    std::string value = get_template(f.value, key + "." + f.key);
    if (value.find_first_of("\r\n") != std::string::npos)
      fail(f.value, key + "." + f.key, "a header value has no line breaks");
    out.emplace_back(f.key, std::move(value));
  }
  return out;
}

}  // namespace

void init_http_connector(ConnectorConfig& c) {
  c.headers = default_headers();
}

void init_http_action(ActionConfig& a) {
  a.headers = default_headers();
}

bool read_http_connector_field(const hocon::Field& f, const std::string& key, ConnectorConfig& c) {
  const std::string k = key + "." + f.key;
  if (f.key == "url") {
    c.url = get_string(f.value, k);
    if (!c.url.starts_with("http://") && !c.url.starts_with("https://"))
      fail(f.value, k, "must start with http:// or https://, got \"" + c.url + "\"");
    if (c.url.find('$') != std::string::npos)
      fail(f.value, k, "the connector's URL has no placeholders (the action's path may)");
  } else if (f.key == "headers") {
    c.headers = read_headers(f.value, k);
  } else if (f.key == "pool_type") {
    c.pool_type = get_enum(f.value, k, {"random", "hash"});
  } else if (f.key == "max_retries" || f.key == "retry_interval" || f.key == "request" ||
             f.key == "max_inactive") {
    // EMQX's deprecated keys: accepted, no meaning.
  } else {
    return read_http_connection(f.value, f.key, k, c.pool_size, c.connect_timeout, c.ssl);
  }
  return true;
}

void check_http_connector(const Value& obj, const std::string& key, ConnectorConfig& c) {
  if (c.url.empty()) fail(obj, key + ".url", "required");
  if (c.url.starts_with("https://")) c.ssl.enable = true;
}

bool read_http_action_param(const hocon::Field& p, const std::string& key, ActionConfig& a) {
  const std::string k = key + "." + p.key;
  if (p.key == "method") {
    a.method = get_enum(p.value, k, {"post", "put", "get", "delete"});
  } else if (p.key == "path") {
    a.path = get_template(p.value, k);
  } else if (p.key == "headers") {
    a.headers = read_headers(p.value, k);
  } else if (p.key == "body") {
    a.body = get_template(p.value, k);
    if (a.body->empty()) a.body.reset();  // EMQX: the output as JSON
  } else if (p.key == "max_retries") {
    a.max_retries = static_cast<std::uint32_t>(get_int(p.value, k, 0, 1000));
  } else if (p.key == "request_timeout") {
    (void)get_duration(p.value, k);  // EMQX's deprecated key: request_ttl decides
  } else {
    return false;
  }
  return true;
}

void check_http_action(const Value&, const std::string&, const ActionConfig&) {}

}  // namespace emqxd::config::detail
