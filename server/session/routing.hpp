#pragma once
// The delivery rules applied between the broker and a session: one place, used by the
// worker's core (WorkerCore, SessionManager).
#include "broker/broker.hpp"
#include "metrics/metrics.hpp"
#include "session/hub.hpp"
#include "session/session.hpp"
#include "storage/batch.hpp"

namespace emqxd::session {

// A broker match turned into what the session sends: the lower of the message's and the
// subscription's QoS [MQTT-3.8.4-8], RETAIN kept only with Retain As Published
// [MQTT-3.3.1-12/13], the subscription identifiers and the shared group.
Delivery make_delivery(const mqtt::MessagePtr& m, broker::Match&& match);

// Appends the delivery for `match` to `out` and records in `result` a live subscriber
// that holds the publisher back (mqtt.backpressure, see broker/pressure.hpp). A QoS 1/2
// delivery to a durable session is stored in `hub`'s turn batch (result.stored).
void route(const mqtt::MessagePtr& m, broker::Match&& match, std::vector<Delivery>& out,
           PublishResult& result, Hub& hub);

// Hands `d` to `s`: to its channel while connected, otherwise to its queue, counting what
// the queue drops in `hub`'s metrics. Runs on the session's worker.
// A stored delivery that the queue drops is erased through `batch` (may be null).
void deliver_to(Session& s, Delivery&& d, const SessionLimits& limits, Hub& hub,
                storage::Batch* batch);

// A message dropped for one subscriber: its topic's messages.dropped when the topic is
// registered (session/topic_metrics.hpp), and, when the subscriber's session `s` is known,
// the rules' $events/delivery_dropped with `reason` (hub.hpp: DeliveryEvent).
void count_dropped(Hub& hub, const mqtt::MessagePtr& m, const Session* s = nullptr,
                   std::string_view reason = {});

}  // namespace emqxd::session
