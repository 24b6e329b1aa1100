// The columns of EMQX's message.publish event (emqx_rule_events:eventmsg_publish/1 and
// with_basic_columns/3).
#include <boost/json/string.hpp>

#include "rules/eval.hpp"

namespace emqxd::rules {

namespace json = boost::json;

json::object publish_columns(const PublishEvent& e) {
  json::object c;
  c["id"] = json::string(e.id);
  c["clientid"] = json::string(e.client_id);
  if (e.username) c["username"] = json::string(*e.username);
  c["payload"] = json::string(e.payload);
  c["peerhost"] = json::string(e.peerhost);
  c["topic"] = json::string(e.topic);
  c["qos"] = e.qos;
  c["flags"] = json::object{{"retain", e.retain}, {"dup", e.dup}};
  c["pub_props"] = e.pub_props;
  c["timestamp"] = e.timestamp_ms;
  c["publish_received_at"] = e.publish_received_at_ms;
  c["node"] = json::string(e.node);
  c["event"] = "message.publish";
  return c;
}

}  // namespace emqxd::rules
