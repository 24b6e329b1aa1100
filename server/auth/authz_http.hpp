#pragma once
// The `http` authorization source (EMQX 5's): a request to `url` per decision, with the
// placeholders ${clientid} ${username} ${peerhost} ${topic} ${action} ${qos} ${retain}
// ${cert_common_name} rendered in the URL (URL-encoded), the headers and the body (a JSON
// object for POST, form fields with Content-Type application/x-www-form-urlencoded, the
// query for GET). Its answer: 204 allow; 200 with JSON {"result": "allow" | "deny" |
// "ignore"} as it says; anything else, a timeout or a server that is down: ignore (the
// chain goes on), logged at most every 10 s.
//
// match() blocks for up to request_timeout: only the node's blocking pool calls it (see
// auth/authorization.hpp). Any thread, concurrently.
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "auth/authorization.hpp"
#include "auth/http_backend.hpp"

namespace emqxd::auth {

class HttpAuthzSource final : public AuthzSource {
 public:
  HttpAuthzSource(const config::AuthzSourceConfig& c, HttpClient client);

  std::string_view type() const override { return "http"; }
  std::optional<Permission> match(const Subject& subject, const AclAction& action,
                                  std::string_view topic) const override;
  bool remote() const override { return true; }

  // The request match() sends (for tests).
  HttpCall request(const Subject& subject, const AclAction& action, std::string_view topic) const;

 private:
  std::optional<Permission> trouble(const std::string& what) const;

  HttpClient client_;
  std::string key_;
  bool get_;
  HttpUrl url_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::vector<std::pair<std::string, std::string>> body_;
  std::string content_type_ = "application/json";
  std::chrono::milliseconds timeout_;
};

}  // namespace emqxd::auth
