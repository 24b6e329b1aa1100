// authorization.sources[N] with type = http: EMQX 5's fields of the http source
// (auth/authz_http.hpp sends the requests). Read apart from the file source in keys.cpp so
// that each source type keeps its fields to itself.
#include <algorithm>

#include "config/schema.hpp"

namespace emqxd::config::detail {

namespace {

constexpr std::string_view kAuthzPlaceholders[] = {
    "${clientid}", "${username}", "${peerhost}", "${topic}",
    "${action}",   "${qos}",      "${retain}",   "${cert_common_name}"};

}  // namespace

void read_authz_http_source(const Value& obj, const std::string& key, AuthzSourceConfig& src) {
  AuthzHttpConfig& h = src.http;
  for (const auto& f : obj.fields()) {
    const std::string fk = key + "." + f.key;
    const Value& v = f.value;
    if (f.key == "type") continue;
    if (f.key == "enable") {
      src.enable = get_bool(v, fk);
    } else if (f.key == "method") {
      h.method = get_enum(v, fk, {"post", "get"});
    } else if (f.key == "url") {
      h.url = get_http_url(v, fk);
      check_placeholders(v, fk, h.url, kAuthzPlaceholders);
    } else if (f.key == "headers") {
      h.headers = string_map(v, fk, {});
    } else if (f.key == "body") {
      h.body = string_map(v, fk, kAuthzPlaceholders);
    } else if (f.key == "request_timeout") {
      h.request_timeout = get_duration_in(v, fk, Duration(1), Duration(300'000));
    } else if (!read_http_connection(v, f.key, fk, h.pool_size, h.connect_timeout, h.ssl)) {
      fail(v, fk,
           "unknown key of an http source (type, enable, method, url, headers, body, "
           "request_timeout, connect_timeout, pool_size, enable_pipelining, ssl)");
    }
  }
  if (h.url.empty()) fail(obj, key + ".url", "required for an http source");
}

}  // namespace emqxd::config::detail
