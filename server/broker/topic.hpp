#pragma once
// Topic names and topic filters (MQTT 5 section 4.7, shared subscriptions section 4.8.2).
//
// A topic name is what a PUBLISH carries: levels separated by '/', no wildcards. A topic
// filter is what a SUBSCRIBE carries: the same, plus '+' (exactly one level) and '#' (the
// parent level and every level below it). Levels may be empty: "/a" has the levels "" and
// "a", "a//b" has three. UTF-8 validity, U+0000 and the 65535-byte limit are checked by the
// codec before anything here runs.
//
// Everything in this file is pure, allocation-free and safe to call from any thread.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.hpp"

namespace emqxd::broker {

inline constexpr char kLevelSeparator = '/';
inline constexpr std::string_view kSingleLevelWildcard = "+";
inline constexpr std::string_view kMultiLevelWildcard = "#";
inline constexpr std::string_view kSharePrefix = "$share/";
inline constexpr std::string_view kQueuePrefix = "$queue/";
// EMQX's group name for `$queue/{filter}`: one group per filter, all its subscribers in it.
inline constexpr std::string_view kQueueGroup = "$queue";

// Checks a PUBLISH topic name: non-empty, no '+' or '#', at most `max_levels` levels
// (0 = no limit, EMQX `mqtt.max_topic_levels`). Errc::TopicNameInvalid otherwise.
Result<void> validate_topic_name(std::string_view topic, std::uint32_t max_levels = 0);

// Checks a plain topic filter: non-empty, '#' alone in the last level, '+' alone in its
// level, at most `max_levels` levels (0 = no limit). Errc::TopicFilterInvalid otherwise.
// A "$share/..." string is checked as a plain filter here; call parse_shared() first.
Result<void> validate_topic_filter(std::string_view filter, std::uint32_t max_levels = 0);

// A parsed shared subscription. Both views point into the string given to parse_shared().
struct SharedFilter {
  std::string_view group;   // ShareName, or kQueueGroup for "$queue/..."
  std::string_view filter;  // the topic filter the group subscribes to
};

// "$share/{group}/{filter}" or "$queue/{filter}" -> SharedFilter; any other string ->
// nullopt (a plain filter, which this function does not validate). A malformed share
// (empty or wildcard group, empty, nested-share or invalid filter, more than `max_levels`
// levels in the filter) -> Errc::TopicFilterInvalid.
Result<std::optional<SharedFilter>> parse_shared(std::string_view filter,
                                                 std::uint32_t max_levels = 0);

// True if some level of `filter` is '+' or '#'.
bool has_wildcard(std::string_view filter);

// Reference matcher: does the (valid) `filter` match the (valid) `topic` name? Implements
// '+', '#' ("sport/#" matches "sport") and the '$' rule [MQTT-4.7.2-1]. Linear in the
// lengths; the tries are tested against it.
bool topic_matches(std::string_view filter, std::string_view topic);

// Number of levels: "a" -> 1, "a/b" -> 2, "/" -> 2, "" -> 1.
std::size_t level_count(std::string_view topic);

// Splits off the first level: returns it and sets `rest` to what follows its separator.
// Sets `more` to false when the returned level was the last. Used to walk levels as views.
inline std::string_view next_level(std::string_view& rest, bool& more) {
  auto slash = rest.find(kLevelSeparator);
  std::string_view level = rest.substr(0, slash);
  more = slash != std::string_view::npos;
  rest = more ? rest.substr(slash + 1) : std::string_view{};
  return level;
}

}  // namespace emqxd::broker
