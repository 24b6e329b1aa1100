#pragma once
// Authentication and authorization hooks. The channel asks these at CONNECT, PUBLISH and
// SUBSCRIBE; the defaults allow everyone (EMQX's behaviour with no authenticator
// configured, which the node logs at start). Implementations may be called from any
// worker thread at once and must not block.
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

enum class Action { Publish, Subscribe };

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual bool allow(const ClientInfo& client, Action action, std::string_view topic) = 0;
};

class AllowAll final : public Authenticator, public Authorizer {
 public:
  mqtt::ReasonCode authenticate(const ClientInfo&, std::optional<std::string_view>) override {
    return mqtt::ReasonCode::Success;
  }
  bool allow(const ClientInfo&, Action, std::string_view) override { return true; }
};

}  // namespace emqxd::auth
