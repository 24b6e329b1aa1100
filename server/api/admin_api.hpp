#pragma once
// The HTTP API's own users and keys, EMQX's paths and shapes (admins.hpp keeps them):
//
//   GET    /api/v5/users                      [{"username","role","description","backend"}]
//   POST   /api/v5/users                      {"username","password","role","description"}
//   PUT    /api/v5/users/{username}           {"role","description"}
//   DELETE /api/v5/users/{username}
//   POST   /api/v5/users/{username}/change_pwd {"old_pwd","new_pwd"}: anyone for themselves,
//          with old_pwd (checked through the login guard, so a stolen token cannot guess
//          it); an administrator for another user without it (EMQX asks old_pwd always;
//          `emqxd ctl admins passwd` resets another's)
//   GET    /api/v5/api_key                    [{"name","api_key","expired_at","created_at",
//                                               "desc","enable","expired","role"}]
//   POST   /api/v5/api_key                    {"name","desc","enable","expired_at","role"}:
//          the key with its "api_secret", the only time the secret is shown
//   GET|PUT|DELETE /api/v5/api_key/{name}     PUT: {"enable","desc","expired_at"}
//
// POST /api/v5/login and /logout are the router's (they share its login guard).
#include <functional>
#include <string>

#include "api/admins.hpp"
#include "api/route_table.hpp"

namespace emqxd::api {

// A user's password checked as a login is (the router's login guard): status 200, else the
// 401 or 429 to answer. Wipes `password`.
using PasswordCheck =
    std::function<Response(const Request& request, const std::string& name, std::string& password)>;

void add_admin_routes(RouteTable& t, Admins& admins, PasswordCheck check);

}  // namespace emqxd::api
