#include "connectors/types.hpp"

#include <stdexcept>

#include "connectors/database.hpp"
#include "connectors/influxdb.hpp"
#include "connectors/kafka.hpp"
#include "connectors/rabbitmq.hpp"

namespace emqxd::connectors {

std::unique_ptr<Connector> make_connector(const config::ConnectorConfig& c, const Services& s) {
  if (c.type == "http") return make_http_connector(c, s.http(c));
  if (c.type == "mqtt") return make_mqtt_connector(c, s.node, s.sink);
  if (c.type == "influxdb") return make_influx_connector(c, s.http(c));
  if (c.type == "rabbitmq") return make_rabbit_connector(c);
  if (c.type == "kafka_producer") return make_kafka_connector(c);
  if (c.type == "pgsql" || c.type == "mysql" || c.type == "redis") return make_db_connector(c);
  throw std::runtime_error("connector type " + c.type + " is not implemented");
}

}  // namespace emqxd::connectors
