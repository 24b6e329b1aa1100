#pragma once
// The access-control paths of /api/v5, EMQX's shapes:
//
//   GET    /api/v5/authentication/{id}/users[?page&limit&like_user_id&is_superuser]
//   POST   /api/v5/authentication/{id}/users            {"user_id", "password", "is_superuser"}
//   GET    /api/v5/authentication/{id}/users/{user_id}
//   PUT    /api/v5/authentication/{id}/users/{user_id}  {"password", "is_superuser"}
//   DELETE /api/v5/authentication/{id}/users/{user_id}
//          {id}: password_based:built_in_database or scram:built_in_database (%3A or ':')
//   GET    /api/v5/banned[?page&limit]
//   POST   /api/v5/banned    {"as", "who", "by", "reason", "at", "until"}
//   DELETE /api/v5/banned    (every entry)
//   DELETE /api/v5/banned/{as}/{who}
//   GET|POST /api/v5/authorization/sources/built_in_database/rules/users|clients
//   GET|PUT|DELETE .../rules/users/{username}, .../rules/clients/{clientid}
//   GET|POST|DELETE .../rules/all; DELETE .../rules (every rule)
//
// Writes go to the replicated tables (tables/replicated_tables.hpp): whichever node is
// asked, every node has them at once and after a restart.
#include "api/route_table.hpp"

namespace emqxd::session {
struct NodeState;
}

namespace emqxd::api {

void add_access_routes(RouteTable& table, const session::NodeState& node);

}  // namespace emqxd::api
