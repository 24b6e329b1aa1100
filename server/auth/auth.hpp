#pragma once
// The authorization hook. The channel asks it at PUBLISH and SUBSCRIBE; the default allows
// everyone (EMQX's behaviour with no authorization source). Authentication is
// auth/authentication.hpp. Implementations may be called from any
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

enum class Action { Publish, Subscribe };

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  virtual bool allow(const ClientInfo& client, Action action, std::string_view topic) = 0;
};

class AllowAll final : public Authorizer {
 public:
  bool allow(const ClientInfo&, Action, std::string_view) override { return true; }
};

}  // namespace emqxd::auth
