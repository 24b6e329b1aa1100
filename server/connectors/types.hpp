#pragma once
// The connector types emqxd runs, by EMQX's names: http (connectors/http.hpp), pgsql,
// mysql and redis (connectors/database.hpp). config/connector_keys.cpp reads their
// definitions; this makes the running connector of one.
#include <memory>

#include "config/config.hpp"
#include "connectors/http.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

// Throws std::runtime_error when it cannot be made (a TLS file, a server address).
std::unique_ptr<Connector> make_connector(const config::ConnectorConfig& c,
                                          const HttpFactory& http);

}  // namespace emqxd::connectors
