#include "session/node_state.hpp"

namespace emqxd::session {

NodeState::NodeState(config::Config c, const auth::HttpClient& http)
    : config(std::move(c)),
      broker(broker::parse_shared_strategy(config.mqtt.shared_subscription_strategy)
                 .value_or(broker::SharedStrategy::RoundRobin)),
      retainer(broker::RetainerLimits{config.retainer.max_retained_messages,
                                      config.retainer.max_payload_size,
                                      config.retainer.msg_expiry_interval}),
      authorization(config.authorization, http),
      rewrite(config.rewrite.empty() ? nullptr : std::make_unique<TopicRewrite>(config.rewrite)) {}

}  // namespace emqxd::session
