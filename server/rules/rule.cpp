#include "rules/rule.hpp"

#include <boost/json/serialize.hpp>

namespace emqxd::rules {

namespace json = boost::json;

namespace {

// EMQX's defaults for republish (emqx_rule_engine_schema): the message as it came.
constexpr std::string_view kDefaultQos = "${qos}";
constexpr std::string_view kDefaultRetain = "${retain}";
constexpr std::string_view kDefaultPayload = "${payload}";
constexpr std::string_view kDefaultUserProperties = "${user_properties}";
// Copies the event's own user properties, SELECTed or not (EMQX's special case).
constexpr std::string_view kEventUserProperties = "${pub_props.'User-Property'}";

// The events a rule may read so far (session/worker_rules.cpp fires them), by Event.
constexpr std::string_view kEventSources[kEvents] = {
    "$events/client_connected",   "$events/client_disconnected",
    "$events/session_subscribed", "$events/session_unsubscribed",
    "$events/client_connack",     "$events/client_check_authz_complete",
    "$events/message_delivered",  "$events/message_acked",
    "$events/message_dropped",    "$events/delivery_dropped"};
constexpr std::string_view kEventNames[kEvents] = {
    "client.connected",     "client.disconnected", "session.subscribed",
    "session.unsubscribed", "client.connack",      "client.check_authz_complete",
    "message.delivered",    "message.acked",       "message.dropped",
    "delivery.dropped"};

// The MQTT 5 properties a republished message may carry (EMQX's names).
constexpr std::string_view kMqttProperties[] = {"Payload-Format-Indicator",
                                                "Message-Expiry-Interval", "Content-Type",
                                                "Response-Topic", "Correlation-Data"};

struct Fail {
  RuleError error;
};

[[noreturn]] void fail(std::string field, std::string message) {
  throw Fail{{std::move(field), std::move(message)}};
}

std::string text_of(const json::value& v, const std::string& field) {
  if (!v.is_string()) fail(field, "expected a string, got " + json::serialize(v));
  return std::string(v.get_string());
}

Template template_of(std::string_view text, const std::string& field) {
  std::string err;
  auto t = Template::parse(text, err);
  if (!t) fail(field, err);
  return std::move(*t);
}

// A number/bool written as such, or one placeholder.
Template scalar_template(const json::value& v, const std::string& field, bool is_qos) {
  if (v.is_string()) {
    auto t = template_of(v.get_string(), field);
    if (t.has_placeholders() && !t.single())
      fail(field, "must be one ${...} placeholder and nothing else");
    if (!t.has_placeholders()) {
      // Written as text: it must already be a valid value.
      const auto& s = t.source();
      if (is_qos ? !(s == "0" || s == "1" || s == "2") : !(s == "true" || s == "false"))
        fail(field, is_qos ? "must be 0, 1, 2 or a ${...} placeholder"
                           : "must be true, false or a ${...} placeholder");
    }
    return t;
  }
  if (is_qos) {
    auto n = v.is_int64() ? std::optional(v.get_int64()) : std::nullopt;
    if (!n || *n < 0 || *n > 2) fail(field, "must be 0, 1, 2 or a ${...} placeholder");
    return template_of(std::to_string(*n), field);
  }
  if (!v.is_bool()) fail(field, "must be true, false or a ${...} placeholder");
  return template_of(v.get_bool() ? "true" : "false", field);
}

Republish read_republish(const json::value* args_v, const std::string& key) {
  const std::string k = key + ".args";
  if (args_v == nullptr) fail(k, "required: the republish action needs args with a topic");
  if (!args_v->is_object()) fail(k, "expected an object");
  const json::object& args = args_v->get_object();
  Republish r;
  r.qos = template_of(kDefaultQos, k);
  r.retain = template_of(kDefaultRetain, k);
  r.payload = template_of(kDefaultPayload, k);
  r.user_properties = template_of(kDefaultUserProperties, k);
  bool has_topic = false;
  for (const auto& kv : args) {
    const std::string name(kv.key());
    const std::string f = k + "." + name;
    const json::value& v = kv.value();
    if (name == "topic") {
      r.topic = template_of(text_of(v, f), f);
      if (r.topic.source().empty()) fail(f, "must not be empty");
      has_topic = true;
    } else if (name == "qos") {
      r.qos = scalar_template(v, f, true);
    } else if (name == "retain") {
      r.retain = scalar_template(v, f, false);
    } else if (name == "payload") {
      r.payload = template_of(text_of(v, f), f);
    } else if (name == "user_properties") {
      const std::string text = text_of(v, f);
      if (text == kEventUserProperties) {
        r.user_properties_from_event = true;
      } else {
        r.user_properties = template_of(text, f);
      }
    } else if (name == "mqtt_properties") {
      if (!v.is_object()) fail(f, "expected an object of MQTT 5 properties");
      for (const auto& p : v.get_object()) {
        const std::string pn(p.key());
        bool known = false;
        for (auto m : kMqttProperties)
          known = known || m == pn;
        if (!known) {
          fail(f + "." + pn,
               "not a property a message carries (Payload-Format-Indicator, "
               "Message-Expiry-Interval, Content-Type, Response-Topic, Correlation-Data)");
        }
        r.mqtt_properties.emplace_back(pn,
                                       template_of(text_of(p.value(), f + "." + pn), f + "." + pn));
      }
    } else if (name == "direct_dispatch") {
      if (!v.is_bool()) fail(f, "expected true or false");
      r.direct_dispatch = v.get_bool();
    } else {
      fail(f,
           "unknown field (topic, qos, retain, payload, user_properties, mqtt_properties, "
           "direct_dispatch)");
    }
  }
  if (!has_topic) fail(k + ".topic", "required");
  r.payload_whole = r.payload.source().empty();
  return r;
}

Action read_action(const json::value& v, const std::string& key) {
  Action a;
  a.source = v;
  if (v.is_string()) {
    const std::string ref(v.get_string());
    const auto colon = ref.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == ref.size())
      fail(key, "an action reference is \"<type>:<name>\", got \"" + ref + "\"");
    a.kind = Action::Kind::Connector;
    a.ref = ref;
    // EMQX accepts a reference to an action that does not exist (yet): the rule counts it
    // actions.discarded when it runs.
    return a;
  }
  if (!v.is_object()) fail(key, "expected an object {function, args} or \"<type>:<name>\"");
  const json::object& o = v.get_object();
  for (const auto& kv : o) {
    if (kv.key() != "function" && kv.key() != "args")
      fail(key + "." + std::string(kv.key()), "unknown field (function, args)");
  }
  const json::value* fn = o.if_contains("function");
  if (fn == nullptr) fail(key + ".function", "required (republish or console)");
  const std::string f = text_of(*fn, key + ".function");
  if (f == "republish") {
    a.kind = Action::Kind::Republish;
    a.republish = read_republish(o.if_contains("args"), key);
  } else if (f == "console") {
    a.kind = Action::Kind::Console;
  } else {
    fail(key + ".function",
         "\"" + f +
             "\" is not a built-in action (republish, console); emqxd runs no Erlang "
             "functions");
  }
  return a;
}

bool read_bool(const json::value& v, const std::string& field) {
  if (!v.is_bool()) fail(field, "expected true or false, got " + json::serialize(v));
  return v.get_bool();
}

}  // namespace

std::string_view event_source(Event e) {
  return kEventSources[static_cast<std::size_t>(e)];
}

std::string_view event_name(Event e) {
  return kEventNames[static_cast<std::size_t>(e)];
}

std::optional<Event> event_of(std::string_view source) {
  for (std::size_t i = 0; i < kEvents; ++i) {
    if (kEventSources[i] == source) return static_cast<Event>(i);
  }
  return std::nullopt;
}

json::value action_json(const Action& a) {
  switch (a.kind) {
    case Action::Kind::Connector:
      return json::string(a.ref);
    case Action::Kind::Console:
      return json::object{{"function", "console"}, {"args", json::object{}}};
    case Action::Kind::Republish:
      break;
  }
  const Republish& r = a.republish;
  json::object props;
  for (const auto& [k, t] : r.mqtt_properties)
    props[k] = t.source();
  json::object args{
      {"topic", r.topic.source()},
      {"qos", r.qos.source()},
      {"retain", r.retain.source()},
      {"payload", r.payload.source()},
      {"user_properties", r.user_properties_from_event ? std::string(kEventUserProperties)
                                                       : r.user_properties.source()},
      {"mqtt_properties", std::move(props)},
      {"direct_dispatch", r.direct_dispatch}};
  // Constants as they were written: numbers and booleans.
  for (auto* k : {"qos", "retain"}) {
    const auto& s = args[k].get_string();
    if (s == "0" || s == "1" || s == "2")
      args[k] = s[0] - '0';
    else if (s == "true")
      args[k] = true;
    else if (s == "false")
      args[k] = false;
  }
  return json::object{{"function", "republish"}, {"args", std::move(args)}};
}

bool valid_rule_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxRuleIdBytes) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(id[0])) return false;
  for (char c : id) {
    if (!alnum(c) && c != '-' && c != '_') return false;
  }
  return true;
}

std::variant<std::shared_ptr<const Rule>, RuleError> read_rule(const std::string& id,
                                                               const json::object& o,
                                                               std::int64_t created_at_ms) {
  try {
    if (!valid_rule_id(id)) {
      fail("id", "\"" + id +
                     "\" is not a rule id: letters, digits, '-' and '_', starting with a letter "
                     "or digit, at most 255 bytes");
    }
    auto r = std::make_shared<Rule>();
    r->id = id;
    r->created_at_ms = created_at_ms;
    bool has_sql = false;
    for (const auto& kv : o) {
      const std::string name(kv.key());
      const json::value& v = kv.value();
      if (name == "id") {
        if (text_of(v, "id") != id) fail("id", "does not match the rule's id \"" + id + "\"");
      } else if (name == "sql") {
        r->sql = text_of(v, "sql");
        has_sql = true;
      } else if (name == "name") {
        r->name = text_of(v, "name");
      } else if (name == "description") {
        r->description = text_of(v, "description");
      } else if (name == "enable") {
        r->enable = read_bool(v, "enable");
      } else if (name == "metadata") {
        if (!v.is_object()) fail("metadata", "expected an object");
        r->metadata = v.get_object();
        if (const auto* c = r->metadata.if_contains("created_at"); c != nullptr && c->is_int64())
          r->created_at_ms = c->get_int64();
      } else if (name == "actions") {
        if (!v.is_array()) fail("actions", "expected a list of actions");
        if (v.get_array().size() > kMaxActions)
          fail("actions", "at most " + std::to_string(kMaxActions) + " actions");
        std::size_t n = 0;
        for (const auto& a : v.get_array())
          r->actions.push_back(read_action(a, "actions[" + std::to_string(++n) + "]"));
      } else {
        fail(name.empty() ? "\"\"" : name,
             "unknown field (id, sql, actions, enable, description, name, metadata)");
      }
    }
    if (!has_sql) fail("sql", "required");
    if (r->sql.size() > kMaxSqlBytes)
      fail("sql", "longer than " + std::to_string(kMaxSqlBytes) + " bytes");
    auto parsed = parse(r->sql);
    if (auto* e = std::get_if<SqlError>(&parsed)) fail("sql", e->message);
    r->statement = std::make_shared<const Statement>(std::move(std::get<Statement>(parsed)));
    for (const auto& src : r->statement->from) {
      if (src.starts_with("$bridges/") || src.starts_with("$sources/")) {
        // A source's messages: "$bridges/mqtt:<name>" (connectors/mqtt.hpp).
        const std::string_view ref = std::string_view(src).substr(9);
        const auto colon = ref.find(':');
        if (colon == std::string_view::npos || colon == 0 || colon + 1 == ref.size()) {
          fail("sql", "FROM \"" + src + "\": expected $bridges/<type>:<name>");
        }
        if (ref.substr(0, colon) != "mqtt") {
          fail("sql", "FROM \"" + src + "\": sources of type " + std::string(ref.substr(0, colon)) +
                          " are not implemented yet (so far: mqtt)");
        }
        continue;
      }
      if (src.starts_with("$events/")) {
        auto e = event_of(src);
        if (!e) {
          std::string names;
          for (auto n : kEventSources)
            names += (names.empty() ? "" : ", ") + std::string(n);
          fail("sql", "FROM \"" + src + "\": not an event emqxd fires (" + names + ")");
        }
        r->events |= 1u << static_cast<unsigned>(*e);
      } else {
        r->on_publish = true;
      }
    }
    r->metadata["created_at"] = r->created_at_ms;
    return std::shared_ptr<const Rule>(std::move(r));
  } catch (Fail& f) {
    return std::move(f.error);
  }
}

json::object rule_definition(const Rule& r) {
  json::array actions;
  for (const auto& a : r.actions)
    actions.push_back(a.source);
  json::object o;
  o["id"] = r.id;
  o["name"] = r.name;
  o["sql"] = r.sql;
  o["actions"] = std::move(actions);
  o["enable"] = r.enable;
  o["description"] = r.description;
  o["metadata"] = r.metadata;
  return o;
}

}  // namespace emqxd::rules
