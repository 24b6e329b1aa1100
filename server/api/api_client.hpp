#pragma once
// A blocking HTTP/1.1 client for one request: what `emqxd cluster` uses to reach a node's
// HTTP API, and the HTTP authentication backend (on the authentication pool's threads). Beast lives
// in api_client.cpp only; this header includes no Boost.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace emqxd::api {

struct ClientRequest {
  std::string host = "127.0.0.1";
  std::string port = "18083";
  std::string method = "GET";
  std::string target = "/status";
  std::string username;  // HTTP Basic when not empty
  std::string password;
  std::string body;  // sent with content_type when not empty
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;  // more header fields
  std::string user_agent = "emqxd-cli";
  std::chrono::milliseconds timeout{10'000};  // the whole exchange, connect included
};

struct ClientResponse {
  bool reached = false;  // false: no HTTP answer; `error` says why
  std::string error;     // "Connection refused", "timed out", ...
  int status = 0;
  std::string content_type;
  std::string body;
};

// Sends `request` and waits for the answer, at most request.timeout. Never throws.
ClientResponse http_call(const ClientRequest& request);

}  // namespace emqxd::api
