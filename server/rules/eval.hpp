#pragma once
// Running a parsed rule (sql.hpp) over one event, as EMQX's emqx_rule_runtime does.
//
// The event is its columns, an object with EMQX's names (publish_columns() builds those
// of message.publish). What comes out:
//   SELECT: one object, the fields selected; none when WHERE is not true.
//   FOREACH: one object per element of the last FOREACH field that passes INCASE (none
//     when WHERE is not true, or that field is not an array): with DO, the DO fields;
//     without DO, EMQX's whole context: the columns, the FOREACH fields and the element
//     under its alias (`item` unless aliased).
// EMQX's undefined has no JSON form: a field whose value is undefined is left out.
//
// Errors: a failing evaluation (a function given bad arguments, a payload path over a
// payload that is not JSON, the run's Budget spent) yields no output and sets `error`, as
// EMQX counts the rule's `failed.exception`. Nothing throws but std::bad_alloc. Pure and
// reentrant: any thread may run any Statement, concurrently.
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/sql.hpp"

namespace emqxd::rules {

// What the rules run over one event share, so that each pays it once: the columns' size
// (for the budgets) and the payload read as JSON. Made empty per event; for those columns
// only.
struct EventCache {
  std::optional<std::size_t> columns_size;
  bool payload_tried = false;
  std::optional<boost::json::value> payload;  // none: the payload is not JSON
};

std::vector<boost::json::object> run(const Statement& st, const boost::json::object& columns,
                                     std::string& error, EventCache* cache = nullptr);

// Whether a rule with these FROM sources sees this event: "$events/..." and "$bridges/..."
// names match exactly, anything else is a topic filter matched against the topic
// (MQTT's wildcards and its '$' rule).
bool matches_from(const Statement& st, std::string_view topic_or_event);

// The message.publish event as EMQX names its columns (emqx_rule_events:eventmsg_publish).
struct PublishEvent {
  std::string_view id;  // the message id, hex
  std::string_view client_id;
  std::optional<std::string_view> username;  // none: the column is undefined
  std::string_view payload;
  std::string_view peerhost;  // the publisher's address, without port
  std::string_view topic;
  int qos = 0;
  bool retain = false;
  bool dup = false;
  boost::json::object pub_props;  // MQTT 5 properties, EMQX's names ("User-Property", ...)
  std::int64_t timestamp_ms = 0;  // when the event fired
  std::int64_t publish_received_at_ms = 0;
  std::string_view node;  // "emqx@127.0.0.1"
};

boost::json::object publish_columns(const PublishEvent& e);

}  // namespace emqxd::rules
