#pragma once
// The authentication hook. The channel asks it at CONNECT; the default lets everyone in
// (EMQX's behaviour with no authenticator configured, which the node logs at start).
// Implementations may be called from any worker thread at once and must not block.
// Authorization (PUBLISH, SUBSCRIBE) is auth/authorization.hpp.
#include <optional>
#include <string_view>

#include "mqtt/types.hpp"

namespace emqxd::auth {

struct ClientInfo {
  std::string_view client_id;
  std::optional<std::string_view> username;
  std::string_view peer;  // "ip:port"
  mqtt::ProtocolVersion version = mqtt::ProtocolVersion::V5;
};

class Authenticator {
 public:
  virtual ~Authenticator() = default;
  // Success, or the v5 reason for refusing (BadUserNameOrPassword, NotAuthorized, Banned).
  virtual mqtt::ReasonCode authenticate(const ClientInfo& client,
                                        std::optional<std::string_view> password) = 0;
};

class AllowAll final : public Authenticator {
 public:
  mqtt::ReasonCode authenticate(const ClientInfo&, std::optional<std::string_view>) override {
    return mqtt::ReasonCode::Success;
  }
};

}  // namespace emqxd::auth
