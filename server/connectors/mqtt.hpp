#pragma once
// The mqtt connector, action and source: EMQX 5's MQTT bridge (connectors.mqtt.<name>,
// actions.mqtt.<name>, sources.mqtt.<name>), to any MQTT 3.1, 3.1.1 or 5.0 broker over TCP
// or TLS. NanoMQ's edge case: an emqxd bridged to a cloud broker.
//
// The connector is pool_size clients of the remote broker, each with its own client id
// (EMQX's: <connector name><8 hex digits of the node name's SHA-1>:<n>, or after
// clientid_prefix), its keepalive, clean_start, username and password, and bridge_mode
// (the protocol level's 0x80 bit, which tells a v3/v4 broker it is a bridge). They run on
// one thread of the connector's own (Asio); a client that loses its connection reconnects
// after 1 s, doubling to 30 s. Status: connected while some client is.
//
// An action publishes each rule output to the remote broker: `topic` (a template), `qos`
// and `retain` (values, or a template of one placeholder), `payload` (a template; none:
// the output as JSON). QoS 1 and 2 wait for the remote's PUBACK / PUBCOMP (max_inflight
// per client); a reason code of 0x80 or more fails the message, a lost connection retries
// it (connectors/resource.hpp).
//
// A source subscribes to `topic` (a remote filter, `$share/...` allowed) at `qos` (2 is
// taken as 1, as EMQX does), `no_local` for MQTT 5 (so that what this connector's actions
// publish does not come back). With a filter that is not shared, only the first client
// subscribes (otherwise every client would get each message). Each message is handed to
// the node's rules as the event "$bridges/mqtt:<name>" (also "$sources/mqtt:<name>") with
// EMQX's columns: id, server, topic, payload, qos, dup, retain, pub_props,
// message_received_at. Loop prevention is EMQX's: no_local and bridge_mode; a rule that
// sends a source's messages to an action on the same topics makes a loop.
#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

// Takes a source's message (hookpoint "$bridges/mqtt:<name>", the rule columns); any
// thread, never blocks (the node queues it for a worker, or drops it when they lag).
using SourceSink = std::function<void(const std::string& hookpoint, boost::json::object columns)>;

// `node` names the node (client ids). Throws std::runtime_error (a TLS file it cannot use).
std::unique_ptr<Connector> make_mqtt_connector(const config::ConnectorConfig& c,
                                               const std::string& node, SourceSink sink);

// EMQX's client id of the n-th (1-based) client of connector `name` on `node`.
std::string mqtt_client_id(const std::string& name, const std::string& prefix,
                           const std::string& node, std::size_t n);

}  // namespace emqxd::connectors
