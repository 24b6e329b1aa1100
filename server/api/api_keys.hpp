#pragma once
// API keys from EMQX's bootstrap file (api_key.bootstrap_file): one key a line,
// `key:secret[:role]`, role `administrator` (the default) or `viewer`. A client sends the
// key and the secret as HTTP Basic username and password, as with EMQX. An administrator
// may do everything the API offers; a viewer may only read (GET), anything else is 403
// FORBIDDEN.
//
// As for the dashboard user (credentials.hpp), only a salted PBKDF2 hash of each secret is
// kept; the file's text is wiped once read. A bad line stops start-up naming the file and
// the line (never the secret).
#include <string>
#include <string_view>
#include <vector>

#include "api/credentials.hpp"

namespace emqxd::api {

enum class Role { Administrator, Viewer };

struct ApiKey {
  Credentials credentials;  // username() is the key
  Role role = Role::Administrator;
};

// Parses the text of a bootstrap file; `name` is the file as error messages name it.
// Empty lines and lines starting with '#' are skipped. A key is letters, digits, '-' and
// '_' (as EMQX's); a secret 3 to 128 characters without ':' or spaces. Throws
// std::runtime_error "<name>:<line>: <what>" for a bad line or a key given twice.
std::vector<ApiKey> parse_api_keys(std::string_view text, const std::string& name,
                                   int iterations = Credentials::kIterations);

// Reads and parses `path`; throws std::runtime_error naming it when it cannot be read.
std::vector<ApiKey> load_api_keys(const std::string& path,
                                  int iterations = Credentials::kIterations);

}  // namespace emqxd::api
