#pragma once
// A rule as EMQX configures it (rule_engine.rules.<id>, and the body of POST /api/v5/rules):
// its SQL, its actions, whether it is enabled, a description; checked and compiled once
// (the SQL parsed, the actions' templates read), so that running it per event only
// evaluates. One reader for the config file and the API, so that both refuse the same
// things with the same words.
//
//   {
//     "id": "rule_1",                      config: the key under rules; API: optional
//     "name": "", "description": "",
//     "sql": "SELECT * FROM \"t/#\"",
//     "enable": true,
//     "actions": [
//       {"function": "republish", "args": {"topic": "a/${clientid}", "qos": "${qos}",
//         "retain": false, "payload": "${payload}", "user_properties": "${...}",
//         "mqtt_properties": {"Content-Type": "..."}, "direct_dispatch": false}},
//       {"function": "console"},
//       "http:my_webhook"                  a connector's action (connectors, not yet)
//     ],
//     "metadata": {"created_at": 1700000000000}
//   }
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rules/sql.hpp"
#include "rules/template.hpp"

namespace emqxd::rules {

// EMQX's republish arguments (emqx_rule_actions), with its defaults. Templates read the
// rule's output (what it SELECTed), not the event.
struct Republish {
  Template topic;
  Template qos;      // 0..2 or one placeholder ("${qos}"); reads nothing: 0
  Template retain;   // true/false or one placeholder ("${retain}"); reads nothing: false
  Template payload;  // "" (EMQX's ${.}): the whole output as JSON
  bool payload_whole = false;
  // One placeholder that reads a map (or a list of {key, value}); reads nothing: none.
  // "${pub_props.'User-Property'}" copies the event's own user properties.
  Template user_properties;
  bool user_properties_from_event = false;
  // EMQX's property names; a property whose placeholder reads nothing is left out.
  std::vector<std::pair<std::string, Template>> mqtt_properties;
  bool direct_dispatch = false;  // true: the message does not go through the rules again
};

struct Action {
  enum class Kind { Republish, Console, Connector };
  Kind kind = Kind::Console;
  Republish republish;
  std::string ref;  // Connector: "type:name"
  // As written (the API shows it back).
  boost::json::value source;
};

struct Rule {
  std::string id;
  std::string name;
  std::string description;
  std::string sql;
  bool enable = true;
  std::int64_t created_at_ms = 0;
  boost::json::object metadata;
  std::vector<Action> actions;
  std::shared_ptr<const Statement> statement;
  // Whether any FROM source is a topic filter (message.publish): only those rules run on
  // publishes; the others wait for their $events (bit i: Event i).
  bool on_publish = false;
  std::uint32_t events = 0;
};

// The "$events/..." sources a rule may read (FROM); others are refused. Each has an index
// (0..kEvents-1) for the engine's bit mask of events some rule listens to.
enum class Event : std::uint8_t {
  ClientConnected,
  ClientDisconnected,
  SessionSubscribed,
  SessionUnsubscribed,
  ClientConnack,
  ClientCheckAuthzComplete,
  MessageDelivered,
  MessageAcked,
  MessageDropped,
  DeliveryDropped,
};
inline constexpr std::size_t kEvents = 10;
std::string_view event_source(Event e);  // "$events/client_connected", ...
std::string_view event_name(Event e);    // the column "event": "client.connected", ...
std::optional<Event> event_of(std::string_view source);
inline bool known_event(std::string_view source) {
  return event_of(source).has_value();
}

// Limits that keep one rule's definition bounded.
inline constexpr std::size_t kMaxRuleIdBytes = 255;
inline constexpr std::size_t kMaxActions = 64;

// EMQX's rule id: letters, digits, '-' and '_', starting with a letter or digit.
bool valid_rule_id(std::string_view id);

// A failure names the field (`actions[2].args.topic`, 1-based as the config's messages
// are) and what is wrong.
struct RuleError {
  std::string field;
  std::string message;
};

// Reads and compiles `o` as rule `id` (the caller chooses the id: the config's key, the
// path, or a generated one; an "id" field in `o` must agree). `created_at_ms` is used when
// the metadata carries none.
std::variant<std::shared_ptr<const Rule>, RuleError> read_rule(const std::string& id,
                                                               const boost::json::object& o,
                                                               std::int64_t created_at_ms);

// The fields that define a rule, as stored and replicated (read_rule reads it back): id,
// name, sql, actions, enable, description, metadata.created_at.
boost::json::object rule_definition(const Rule& r);
// An action as EMQX's API shows it: {"function", "args"} with every argument (defaults
// filled in), or the "<type>:<name>" reference.
boost::json::value action_json(const Action& a);

}  // namespace emqxd::rules
