#pragma once
// The kafka_producer connector and its action (EMQX 5's connectors.kafka_producer and
// actions.kafka_producer), with librdkafka (Debian's librdkafka1) as the client.
//
// The connector holds the connection settings (bootstrap_hosts, timeouts, SASL PLAIN or
// SCRAM) and a client of its own for the health check: a metadata request to the cluster
// (and, with health_check_topic, for that topic), so that unreachable brokers show as the
// connector's `disconnected` status with librdkafka's last error ("Connect to
// ipv4#127.0.0.1:9092 failed: Connection refused").
//
// Each action has one librdkafka producer, shared by its buffer workers, with the action's
// settings (required_acks, compression, partition_strategy, max_batch_bytes,
// max_linger_time, max_inflight) and a thread that serves its delivery reports. A batch's
// messages are rendered from the templates (topic, message.key, message.value,
// message.timestamp, kafka_headers, kafka_ext_headers), handed to librdkafka, and the send
// is done when every delivery report came back. librdkafka tries a message for
// sync_query_timeout (its message.timeout.ms); what it could not deliver by then goes back
// to the action's buffer (EMQX's producer buffer: buffer.mode, per_partition_limit,
// segment_bytes), which keeps it until request_ttl.
//
// Outcomes (connectors/resource.hpp): all delivered is success; a delivery that timed out,
// brokers down, a full local queue are kept and sent again; a message Kafka refuses (too
// large, an unknown topic, not authorized) fails the batch.
//
// No Kafka server is packaged by Debian: the tests check the configuration, the status
// against a closed port, and the buffering and expiry of what cannot be delivered
// (tests/integration/test_connectors_kafka.py).
#include <memory>

#include "config/config.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

std::unique_ptr<Connector> make_kafka_connector(const config::ConnectorConfig& c);

}  // namespace emqxd::connectors
