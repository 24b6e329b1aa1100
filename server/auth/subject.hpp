#pragma once
// Subject: who a connection is once authentication let it in. The channel keeps one per
// connection; authentication fills it at CONNECT (client id, username, peer, certificate
// name, superuser flag, the rules of a JWT's or an HTTP answer's `acl`, the token's
// expiry) and authorization matches every PUBLISH and SUBSCRIBE against it.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "auth/acl_rules.hpp"

namespace emqxd::auth {

struct Subject {
  std::string client_id;
  std::optional<std::string> username;
  std::optional<IpAddress> peer;                          // the client's address (peerhost)
  std::optional<std::string> cert_common_name;            // TLS listeners with a client certificate
  std::map<std::string, std::string, std::less<>> attrs;  // client_attrs
  bool is_superuser = false;                              // authorization lets it do anything
  std::shared_ptr<const AclRules> acl;                    // checked before every source when set
  std::optional<std::int64_t> expires_at_ms;              // a JWT's exp: disconnected then

  // What AclRules::match takes (views into this Subject).
  AclClient acl_client() const {
    AclClient c;
    c.client_id = client_id;
    if (username) c.username = *username;
    c.peer = peer;
    if (cert_common_name) c.cert_common_name = *cert_common_name;
    c.attrs = &attrs;
    return c;
  }
};

}  // namespace emqxd::auth
