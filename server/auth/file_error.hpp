#pragma once
// The one error of the files authentication and authorization read at start-up or on a
// reload (acl.conf, user bootstrap files, rules from a source): a message that names the
// file and where in it ("acl.conf:12:5: ..."), never a client's path.
#include <stdexcept>

namespace emqxd::auth {

class AuthFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace emqxd::auth
