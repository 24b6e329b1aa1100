#pragma once
// The connector types emqxd runs, by EMQX's names: http (connectors/http.hpp), mqtt
// (connectors/mqtt.hpp), pgsql, mysql and redis (connectors/database.hpp), influxdb
// (connectors/influxdb.hpp), rabbitmq (connectors/rabbitmq.hpp), kafka_producer
// (connectors/kafka.hpp).
// config/connector_keys.cpp reads their definitions; this makes the running connector of
// one. Built with the node's network code (Asio): the mqtt connector's clients are.
#include <memory>
#include <string>

#include "config/config.hpp"
#include "connectors/http.hpp"
#include "connectors/mqtt.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

// What the connectors get from the node.
struct Services {
  HttpFactory http;  // an http or influxdb connector's pool
  std::string node;  // this node's name (mqtt client ids)
  SourceSink sink;   // where sources' messages go (the rules)
};

// Throws std::runtime_error when it cannot be made (a TLS file, a server address).
std::unique_ptr<Connector> make_connector(const config::ConnectorConfig& c, const Services& s);

}  // namespace emqxd::connectors
