#pragma once
// The $SYS client events EMQX publishes (sys_topics.sys_event_messages), with EMQX 5's
// topics and JSON fields, so tools written for EMQX read ours:
//   $SYS/brokers/<node>/clients/<clientid>/connected | disconnected | subscribed | unsubscribed
// Each returns the message to publish (QoS 0, not retained), or null when the client id
// cannot be a topic level ('+' or '#' in it [MQTT-3.3.2-2]).
#include <string_view>

#include "mqtt/message.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::session {

class Channel;

namespace sys_events {

mqtt::MessagePtr connected(const Channel& ch, std::string_view node);
mqtt::MessagePtr disconnected(const Channel& ch, std::string_view node);
mqtt::MessagePtr subscribed(const Channel& ch, std::string_view node, std::string_view filter,
                            const mqtt::SubscribeOptions& opts);
mqtt::MessagePtr unsubscribed(const Channel& ch, std::string_view node, std::string_view filter);

}  // namespace sys_events
}  // namespace emqxd::session
