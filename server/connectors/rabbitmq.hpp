#pragma once
// The rabbitmq connector and its action (EMQX 5's connectors.rabbitmq and
// actions.rabbitmq): messages published to an exchange of a RabbitMQ server over AMQP 0-9-1,
// with librabbitmq (rabbitmq-c, Debian's librabbitmq4) as the client.
//
// The connector is a pool of pool_size AMQP connections, each logged in to virtual_host
// with one channel in confirm mode, that its actions share; a connection that went away is
// opened again when next needed. The health check takes an idle connection (which also
// serves its heartbeats) or opens one, so that a wrong password or an unknown virtual host
// is the connector's status with the server's reason (403 ACCESS_REFUSED ...).
//
// An action renders exchange, routing_key and payload_template (none: the rule's output
// as JSON) for each message and publishes with delivery_mode 1 or 2 (persistent); a batch
// is published on one connection. With wait_for_publish_confirmations (the default), the
// send is done when the server has confirmed every message of it.
//
// Outcomes (connectors/resource.hpp): confirmed is success; no connection, a connection
// lost, a negative confirmation and no confirmation within publish_confirmation_timeout
// are kept and sent again; the server closing the channel (an exchange that does not
// exist: 404 NOT_FOUND) fails the batch with its reason. Without confirmations a message
// the server drops (no such exchange) is lost unseen, as with EMQX.
#include <memory>

#include "config/config.hpp"
#include "connectors/resource.hpp"

namespace emqxd::connectors {

std::unique_ptr<Connector> make_rabbit_connector(const config::ConnectorConfig& c);

}  // namespace emqxd::connectors
