#pragma once
// The OpenAPI 3 document of the HTTP API, made from the RouteTable the router dispatches
// with, so that it lists exactly the paths that answer: each path with its methods, its
// one-line summary and its {name} parameters, and HTTP Basic as the security scheme.
// Served at /api-docs/swagger.json (EMQX's path) and /api-docs while
// dashboard.swagger_support is true (router.cpp).
#include <boost/json/object.hpp>
#include <string>

#include "api/route_table.hpp"

namespace emqxd::api {

boost::json::object openapi_document(const RouteTable& table, const std::string& version);

}  // namespace emqxd::api
