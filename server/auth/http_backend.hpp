#pragma once
// What the auth library needs from an HTTP client, and the outside HTTP services a config
// names. The library sends requests through an injected HttpClient (app::Node passes one
// over api::HttpPool: a pool of keep-alive connections per backend, TLS for https), so
// that it needs no Asio; each request names its backend by the config key of the entry
// that configured it.
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.hpp"

namespace emqxd::auth {

// One HTTP request to an outside service, and its answer.
struct HttpCall {
  std::string backend;  // the config key of its entry ("authentication[1]"): which pool
  std::string method;   // "POST", "GET"
  std::string host, port, target;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string content_type;
  std::string body;
  std::chrono::milliseconds timeout{5000};
};
struct HttpAnswer {
  bool reached = false;  // false: no HTTP answer (`error` says why)
  std::string error;
  int status = 0;
  std::string content_type;
  std::string body;
};
// Blocks until the answer or call.timeout; any thread, concurrently.
using HttpClient = std::function<HttpAnswer(const HttpCall&)>;

// http[s]://host[:port]/path?query, split (the config checked the scheme).
struct HttpUrl {
  bool tls = false;  // https
  std::string host, port, target;
  std::string origin() const;  // "https://host:port", for messages
};
// Throws std::runtime_error naming `key` when there is no host.
HttpUrl split_http_url(const std::string& url, const std::string& key);

// Percent-encoding of everything but RFC 3986's unreserved characters.
std::string url_encode(std::string_view v);

// An outside HTTP service of the config: the http authenticators, the JWKS endpoints, the
// http authorization sources (enabled ones only), for the node to make their pools.
struct HttpBackend {
  std::string key;  // the HttpCall::backend of its requests
  HttpUrl url;      // the target is not used: placeholders vary it per request
  config::ClientSslConfig ssl;
  std::size_t pool_size = 8;
  std::chrono::milliseconds connect_timeout{15'000};
};
std::vector<HttpBackend> http_backends(const config::Config& cfg);

}  // namespace emqxd::auth
