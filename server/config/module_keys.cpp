// The arrays of EMQX's modules: rewrite = [...] (topic rewrite) and auto_subscribe.topics
// = [...]. Each element is checked field by field; a bad one stops start-up naming
// "rewrite[N].field" (N from 1) at its file and line.
#include <algorithm>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config/schema.hpp"

namespace emqxd::config::detail {
namespace {

// The element's fields; a name outside `allowed` stops start-up.
std::vector<const hocon::Field*> fields_of(const Value& obj, const std::string& key,
                                           std::initializer_list<std::string_view> allowed) {
  if (!obj.is_object()) fail(obj, key, "expected an object, got " + shown(obj));
  std::vector<const hocon::Field*> out;
  for (const auto& f : obj.fields()) {
    if (std::find(allowed.begin(), allowed.end(), f.key) == allowed.end()) {
      std::string names;
      for (auto a : allowed)
        names += (names.empty() ? "" : ", ") + std::string(a);
      fail(f.value, key + "." + f.key, "unknown key (" + names + ")");
    }
    out.push_back(&f);
  }
  return out;
}

// An MQTT topic filter: levels split at '/', '+' alone in its level, '#' alone and last.
bool valid_filter(std::string_view f) {
  if (f.empty() || f.find('\0') != std::string_view::npos) return false;
  std::size_t start = 0;
  while (true) {
    auto slash = f.find('/', start);
    auto level = f.substr(start, slash == std::string_view::npos ? f.npos : slash - start);
    if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) return false;
    if (level == "#" && slash != std::string_view::npos) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

std::string required_string(const Value& obj, const std::string& key, std::string_view name) {
  const Value* v = obj.find(name);
  if (v == nullptr) fail(obj, key + "." + std::string(name), "required");
  return get_string(*v, key + "." + std::string(name));
}

}  // namespace

void rewrite_rules(const In& in) {
  auto& rules = in.cfg().rewrite;
  rules.clear();
  if (!in.v.is_array()) in.fail("expected an array of rules, got " + shown(in.v));
  std::size_t n = 0;
  for (const auto& obj : in.v.elements()) {
    const std::string key = in.key + "[" + std::to_string(++n) + "]";
    fields_of(obj, key, {"action", "source_topic", "dest_topic", "re"});
    RewriteRuleConfig r;
    const Value* action = obj.find("action");
    if (action == nullptr) fail(obj, key + ".action", "required (publish, subscribe or all)");
    const auto a = get_enum(*action, key + ".action", {"publish", "subscribe", "all"});
    r.action = a == "publish"     ? RewriteRuleConfig::Action::Publish
               : a == "subscribe" ? RewriteRuleConfig::Action::Subscribe
                                  : RewriteRuleConfig::Action::All;
    r.source_topic = required_string(obj, key, "source_topic");
    if (!valid_filter(r.source_topic)) {
      fail(*obj.find("source_topic"), key + ".source_topic",
           "not a valid topic filter: " + shown(*obj.find("source_topic")));
    }
    r.dest_topic = required_string(obj, key, "dest_topic");
    if (r.dest_topic.empty())
      fail(*obj.find("dest_topic"), key + ".dest_topic", "must not be empty");
    r.re = required_string(obj, key, "re");
    int code = 0;
    PCRE2_SIZE offset = 0;
    pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(r.re.data()), r.re.size(), 0, &code,
                                   &offset, nullptr);
    if (re == nullptr) {
      PCRE2_UCHAR buf[256];
      pcre2_get_error_message(code, buf, sizeof buf);
      fail(*obj.find("re"), key + ".re",
           "not a valid regular expression: " + std::string(reinterpret_cast<const char*>(buf)) +
               " at offset " + std::to_string(offset));
    }
    pcre2_code_free(re);
    rules.push_back(std::move(r));
  }
}

void auto_subscribe_topics(const In& in) {
  auto& topics = in.cfg().auto_subscribe;
  topics.clear();
  if (!in.v.is_array()) in.fail("expected an array of topics, got " + shown(in.v));
  static constexpr std::string_view kPlaceholders[] = {"${clientid}", "${username}", "${host}",
                                                       "${port}"};
  std::size_t n = 0;
  for (const auto& obj : in.v.elements()) {
    const std::string key = in.key + "[" + std::to_string(++n) + "]";
    fields_of(obj, key, {"topic", "qos", "rh", "rap", "nl"});
    AutoSubscribeTopicConfig t;
    t.topic = required_string(obj, key, "topic");
    const Value& topic = *obj.find("topic");
    check_placeholders(topic, key + ".topic", t.topic, kPlaceholders);
    if (!valid_filter(t.topic)) {
      fail(topic, key + ".topic", "not a valid topic filter: " + shown(topic));
    }
    if (const Value* v = obj.find("qos"))
      t.qos = static_cast<std::uint8_t>(get_int(*v, key + ".qos", 0, 2));
    if (const Value* v = obj.find("rh"))
      t.rh = static_cast<std::uint8_t>(get_int(*v, key + ".rh", 0, 2));
    if (const Value* v = obj.find("rap")) t.rap = get_int(*v, key + ".rap", 0, 1) == 1;
    if (const Value* v = obj.find("nl")) t.nl = get_int(*v, key + ".nl", 0, 1) == 1;
    topics.push_back(std::move(t));
  }
}

}  // namespace emqxd::config::detail
