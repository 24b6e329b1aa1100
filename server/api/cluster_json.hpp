#pragma once
// The cluster's answers as the HTTP API writes them (README, HTTP API):
//
// GET /api/v5/cluster
//   {"name":"emqxdcl","self":"n1@127.0.0.1",
//    "members":[{"node":"n1@127.0.0.1","address":"n1@127.0.0.1:4370","state":"alive",
//                "incarnation":1733140000000,"self":true,"routes":3,"link":"up","queued":0}],
//    "routes":{"local":3,"remote":0},
//    "forward":{"sent":0,"received":0,"dropped":0,"queued":0},
//    "sessions":{"takeovers_in":0,"takeovers_out":0}}
// GET /api/v5/routes (EMQX's shape)
//   {"data":[{"topic":"a/+","node":"n2@127.0.0.1"}],"meta":{"count":1}}
//
// `emqxd cluster status` reads the status fields by these names (app/cluster_cli.cpp).
#include <boost/json/value.hpp>

#include "api/control.hpp"

namespace emqxd::api {

boost::json::value to_json(const ClusterStatus& s);
boost::json::value to_json(const RouteList& r);

}  // namespace emqxd::api
