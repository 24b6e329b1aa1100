#pragma once
// The http connector and action: EMQX's webhook (connectors.http.<name>,
// actions.http.<name>).
//
// The connector is a base URL, headers and a pool of keep-alive connections (TLS for
// https) that its actions share, made by the node (app/node.cpp) over api::HttpPool and
// handed in as an HttpSend;
// its health check opens a TCP connection to the URL's host and port, as EMQX's does.
// An action sends one request per rule output: the method, the connector's URL path
// joined with the action's `path` template (a path starting with '?' is appended as it is),
// the connector's headers with the action's over them (rendered), and the `body` template
// rendered, or the output as JSON when there is none; GET and DELETE send no body.
//
// Outcomes, as EMQX's: 2xx is success; 429 and 503, and no answer at all (refused,
// reset, timed out), are retried (the connection errors first up to max_retries times at
// once, then by the buffer worker until request_ttl); any other status fails the request.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "auth/http_backend.hpp"
#include "config/config.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

// Sends one request on the connector's pool; blocks until the answer or call.timeout. Any
// thread.
using HttpSend = std::function<auth::HttpAnswer(const auth::HttpCall&)>;
// Makes a connector's pool (the node's: app/node.cpp); throws std::runtime_error naming a
// TLS file it cannot use.
using HttpFactory = std::function<HttpSend(const config::ConnectorConfig&)>;

// The connector's actions share `send`, its one pool (as EMQX's share the connector's).
std::unique_ptr<Connector> make_http_connector(const config::ConnectorConfig& c, HttpSend send);

// Whether a TCP connection to host:port opens within `timeout`; `reason` says why not.
bool tcp_reachable(const std::string& host, const std::string& port,
                   std::chrono::milliseconds timeout, std::string& reason);

}  // namespace emqxd::connectors
