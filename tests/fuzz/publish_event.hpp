#pragma once
// The message.publish event the rule harnesses run over (rules_fuzz.cpp, rule_def_fuzz.cpp):
// EMQX's example client, topic t/a, the fuzzer's payload.
#include <boost/json/object.hpp>
#include <string_view>

#include "rules/eval.hpp"

namespace emqxd::fuzz {

inline boost::json::object publish_columns(std::string_view payload) {
  rules::PublishEvent e;
  e.id = "0006172E9A8F5C0CF4400000121F0003";
  e.client_id = "c_emqx";
  e.username = "u_emqx";
  e.payload = payload;
  e.peerhost = "127.0.0.1";
  e.topic = "t/a";
  e.qos = 1;
  e.pub_props = boost::json::object{{"User-Property", boost::json::object{{"foo", "bar"}}}};
  e.timestamp_ms = 1645002753259;
  e.publish_received_at_ms = 1645002753259;
  e.node = "emqx@127.0.0.1";
  return rules::publish_columns(e);
}

}  // namespace emqxd::fuzz
