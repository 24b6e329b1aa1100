#include "broker/topic.hpp"

#include <algorithm>

namespace emqxd::broker {

namespace {

bool too_many_levels(std::string_view s, std::uint32_t max_levels) {
  return max_levels != 0 && level_count(s) > max_levels;
}

}  // namespace

Result<void> validate_topic_name(std::string_view topic, std::uint32_t max_levels) {
  if (topic.empty()) return Errc::TopicNameInvalid;  // [MQTT-4.7.3-1]
  if (topic.find_first_of("+#") != std::string_view::npos) {
    return Errc::TopicNameInvalid;  // [MQTT-3.3.2-2]
  }
  if (too_many_levels(topic, max_levels)) return Errc::TopicNameInvalid;
  return {};
}

Result<void> validate_topic_filter(std::string_view filter, std::uint32_t max_levels) {
  if (filter.empty()) return Errc::TopicFilterInvalid;  // [MQTT-4.7.3-1]
  std::string_view rest = filter;
  bool more = true;
  while (more) {
    std::string_view level = next_level(rest, more);
    if (level.find('#') != std::string_view::npos) {
      // '#' must be the whole level and the last one [MQTT-4.7.1-1].
      if (level.size() != 1 || more) return Errc::TopicFilterInvalid;
    } else if (level.find('+') != std::string_view::npos && level.size() != 1) {
      return Errc::TopicFilterInvalid;  // '+' must be the whole level [MQTT-4.7.1-2]
    }
  }
  if (too_many_levels(filter, max_levels)) return Errc::TopicFilterInvalid;
  return {};
}

Result<std::optional<SharedFilter>> parse_shared(std::string_view filter,
                                                 std::uint32_t max_levels) {
  SharedFilter shared;
  if (filter.starts_with(kSharePrefix)) {
    std::string_view rest = filter.substr(kSharePrefix.size());
    auto slash = rest.find(kLevelSeparator);
    if (slash == std::string_view::npos) return Errc::TopicFilterInvalid;  // no filter part
    shared.group = rest.substr(0, slash);
    shared.filter = rest.substr(slash + 1);
    // ShareName is at least one character and holds no '/', '+' or '#' [MQTT-4.8.2-1]
    // [MQTT-4.8.2-2]; the '/' case cannot occur since the group ends at the first '/'.
    if (shared.group.empty()) return Errc::TopicFilterInvalid;
    if (shared.group.find_first_of("+#") != std::string_view::npos) {
      return Errc::TopicFilterInvalid;
    }
  } else if (filter.starts_with(kQueuePrefix)) {
    shared.group = kQueueGroup;
    shared.filter = filter.substr(kQueuePrefix.size());
  } else {
    return std::optional<SharedFilter>{};
  }
  // The filter part is a complete, valid, non-shared filter (EMQX refuses nested shares).
  if (auto ok = validate_topic_filter(shared.filter, max_levels); !ok) return ok.error();
  if (shared.filter.starts_with(kSharePrefix) || shared.filter.starts_with(kQueuePrefix)) {
    return Errc::TopicFilterInvalid;
  }
  return std::optional<SharedFilter>{shared};
}

bool has_wildcard(std::string_view filter) {
  std::string_view rest = filter;
  bool more = true;
  while (more) {
    std::string_view level = next_level(rest, more);
    if (level == kSingleLevelWildcard || level == kMultiLevelWildcard) return true;
  }
  return false;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  // A topic starting with '$' is not matched by a filter starting with a wildcard
  // [MQTT-4.7.2-1].
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  std::string_view f = filter;
  std::string_view t = topic;
  bool f_more = true;
  bool t_more = true;
  while (f_more) {
    std::string_view f_level = next_level(f, f_more);
    // '#' matches the parent level and everything below it: "sport/#" matches "sport".
    if (f_level == kMultiLevelWildcard) return true;
    if (!t_more) return false;  // the filter has more levels than the topic
    std::string_view t_level = next_level(t, t_more);
    if (f_level != kSingleLevelWildcard && f_level != t_level) return false;
  }
  return !t_more;
}

std::size_t level_count(std::string_view topic) {
  return static_cast<std::size_t>(std::count(topic.begin(), topic.end(), kLevelSeparator)) + 1;
}

}  // namespace emqxd::broker
