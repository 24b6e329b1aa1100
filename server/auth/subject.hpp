#pragma once
// Subject: who a connection is once authentication let it in. The channel keeps one per
// connection; authentication fills it at CONNECT (client id, username, peer, certificate
// name, superuser flag, the rules of a JWT's or an HTTP answer's `acl`, the token's
// expiry) and authorization matches every PUBLISH and SUBSCRIBE against it.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/acl_rules.hpp"

namespace emqxd::auth {

// A client's rules from the database authorization sources (EMQX's postgresql, mysql,
// redis): fetched once after authentication and again when older than
// authorization.cache.ttl (auth/authorization.hpp). Immutable once made.
struct SourceRules {
  // Indexed like Authorization's sources; null for a source that is not a database, or
  // whose server could not be asked (nomatch).
  std::vector<std::shared_ptr<const AclRules>> by_source;
  std::chrono::steady_clock::time_point fetched_at{};
  // The placeholders' values it was fetched with (no password), to fetch again.
  std::map<std::string, std::string, std::less<>> vars;
};

struct Subject {
  std::string client_id;
  std::optional<std::string> username;
  std::optional<IpAddress> peer;                          // the client's address (peerhost)
  std::optional<std::string> cert_common_name;            // TLS listeners with a client certificate
  std::map<std::string, std::string, std::less<>> attrs;  // client_attrs
  bool is_superuser = false;                              // authorization lets it do anything
  std::shared_ptr<const AclRules> acl;                    // checked before every source when set
  std::optional<std::int64_t> expires_at_ms;              // a JWT's exp: disconnected then
  std::shared_ptr<const SourceRules> source_rules;        // the database sources' rules

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
