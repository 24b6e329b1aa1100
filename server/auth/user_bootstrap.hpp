#pragma once
// The users a built-in database starts with: EMQX's `bootstrap_file` and
// `bootstrap_type = plain | hash`, read as EMQX reads them. The file's extension says its
// format:
//
//   .csv   a header line naming the columns, then one user per line (RFC 4180 quoting):
//          plain: user_id,password,is_superuser
//          hash:  user_id,password_hash,salt,is_superuser   (salt may be absent)
//   .json  an array of objects with the same fields.
//
// `is_superuser` is true when it is true or "true", else false. Plain passwords are hashed
// here with the authenticator's password_hash_algorithm (a fresh salt each). Where EMQX
// logs a warning and goes on, emqxd refuses the file (AuthFileError naming file:line or
// the array index): an operator's users are not half-loaded in silence.
#include <string>
#include <string_view>
#include <vector>

#include "auth/file_error.hpp"
#include "auth/password.hpp"

namespace emqxd::auth {

struct UserRecord {
  std::string user_id;
  std::string password_hash;
  std::string salt;
  bool is_superuser = false;
};

enum class BootstrapType { Plain, Hash };

// The users of a bootstrap file's text; `path` gives the format and names it in errors.
std::vector<UserRecord> parse_user_bootstrap(std::string_view text, std::string_view path,
                                             BootstrapType type, const PasswordAlgorithm& algo);

// Reads the file, then as above.
std::vector<UserRecord> load_user_bootstrap(const std::string& path, BootstrapType type,
                                            const PasswordAlgorithm& algo);

}  // namespace emqxd::auth
