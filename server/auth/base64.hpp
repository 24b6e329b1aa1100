#pragma once
// Standard base64 (RFC 4648, section 4, with padding): SCRAM's messages, stored SCRAM keys,
// a JWT secret given base64-encoded. (JWT's own base64url is in auth/jwt.cpp.)
#include <optional>
#include <string>
#include <string_view>

namespace emqxd::auth {

std::string base64(std::string_view in);
// nullopt for anything but well-formed, padded base64.
std::optional<std::string> unbase64(std::string_view in);

}  // namespace emqxd::auth
