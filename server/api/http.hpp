#pragma once
// The HTTP API's requests and answers as the router sees them: plain structs, no Beast, so
// that routing is tested without sockets and api_server.cpp stays the only code that sees
// Beast (docs/contributing.md, "Names, files, sizes": heavy headers stay out).
#include <string>

namespace emqxd::api {

struct Request {
  std::string method;         // as sent: "GET", "POST", ...
  std::string target;         // origin form: "/api/v5/routes?topic=a%2F%2B"
  std::string authorization;  // the Authorization header, empty when absent; never logged
  std::string accept;         // the Accept header, empty when absent
  std::string body;
  std::string peer;  // "127.0.0.1:50312", for log lines
  // The client connected from a loopback address (127.0.0.0/8, ::1, or either mapped into
  // IPv6): a process on this machine.
  bool loopback = false;
  std::string address;  // the client's IP address alone ("127.0.0.1", "::1"): per-source limits
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::string allow;                // 405: the methods the path accepts, sent as the Allow header
  bool challenge = false;           // 401: sent with WWW-Authenticate: Basic realm="emqxd"
  int retry_after = 0;              // 429: seconds, sent as the Retry-After header when > 0
  std::string content_disposition;  // a download: "attachment; filename=..."
};

}  // namespace emqxd::api
