#pragma once
// How NanoMQ's NNG bridges put an MQTT topic into an NNG message and take it out again
// (bridges.nng.*; docs/gateways.md, "NNG"). Sans-I/O: strings in, strings out.
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/config.hpp"

namespace emqxd::gateways::nng {

// pub: remote_topic (the message's own topic when empty), the delimiter, the payload.
inline std::string outgoing(const config::NngBridgeConfig::Topic& t, std::string_view topic,
                            std::string_view payload) {
  std::string out(t.remote_topic.empty() ? topic : std::string_view(t.remote_topic));
  out += t.delimiter;
  out += payload;
  return out;
}

// sub: the MQTT topic and payload of `msg` for subscription `t`, or nullopt when it is not
// t's. Delimiter "/": "remote_topic/rest" -> (local_topic or remote_topic, rest). Another
// delimiter: the topic runs from remote_topic to the delimiter -> (local_topic or that
// topic, what follows the delimiter). A topic that is empty or holds a wildcard is none.
inline std::optional<std::pair<std::string, std::string>> incoming(
    const config::NngBridgeConfig::Topic& t, std::string_view msg) {
  if (!msg.starts_with(t.remote_topic)) return std::nullopt;
  std::string topic;
  std::string_view payload;
  if (t.delimiter == "/") {
    if (msg.size() <= t.remote_topic.size() || msg[t.remote_topic.size()] != '/')
      return std::nullopt;
    topic = t.local_topic.empty() ? t.remote_topic : t.local_topic;
    payload = msg.substr(t.remote_topic.size() + 1);
  } else {
    const auto at = msg.find(t.delimiter, t.remote_topic.size());
    if (at == std::string_view::npos) return std::nullopt;
    topic = t.local_topic.empty() ? std::string(msg.substr(0, at)) : t.local_topic;
    payload = msg.substr(at + t.delimiter.size());
  }
  if (topic.empty() || topic.find_first_of(std::string_view("+#\0", 3)) != std::string::npos)
    return std::nullopt;
  return std::pair{std::move(topic), std::string(payload)};
}

}  // namespace emqxd::gateways::nng
