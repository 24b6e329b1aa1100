#pragma once
// The influxdb connector and its action (EMQX 5's connectors.influxdb and actions.influxdb):
// points written in line protocol over HTTP, to InfluxDB's v1 API (POST /write?db=...,
// with HTTP Basic credentials when a username is set) or its v2 API
// (POST /api/v2/write?org=...&bucket=..., "Authorization: Token ..."), with the action's
// precision.
//
// The connector is the node's HTTP pool for the server (pool_size connections, TLS when
// ssl.enable); its health check is InfluxDB's GET /ping, then a request that needs the
// credentials (v1 with a username: SHOW DATABASES; v2: the bucket), so that a wrong
// password shows as the connector's status, as EMQX checks it.
//
// An action renders each rule output with its write_syntax (rules/line_protocol.hpp); a
// batch is one request of all its points. Outcomes (connectors/resource.hpp): 2xx is done;
// no answer, 429 and 5xx are kept and sent again; a 401/403 ("authorization failure") or
// another 4xx (a point InfluxDB refuses, a missing database), and a point that cannot be
// written (no field, a timestamp that is no integer), fail the batch, as EMQX fails it.
#include <memory>

#include "config/config.hpp"
#include "connectors/http.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

std::unique_ptr<Connector> make_influx_connector(const config::ConnectorConfig& c, HttpSend send);

}  // namespace emqxd::connectors
