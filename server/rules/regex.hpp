#pragma once
// Regular expressions as EMQX's regex functions run them: Erlang's re, which is PCRE,
// over bytes (no unicode option). Compiled patterns are kept per thread, a few dozen, as
// rules pass the same literal pattern on every message. A subject that makes a pattern
// backtrack past PCRE2's match limit (match_limit()) fails the call instead of taking
// unbounded time. Internal to server/rules.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace emqxd::rules::detail {

enum class RegexStatus { Ok, BadPattern, TooComplex, TooLarge };

// PCRE2's match limit for one search of `subject`: a floor for short subjects, and room
// for a linear scan of long ones. A call costs about this much work at most.
std::uint32_t match_limit(std::string_view subject);

struct RegexResult {
  RegexStatus status = RegexStatus::Ok;
  std::string error;  // BadPattern: PCRE2's message and offset
};

// re:run(Subject, Pattern): whether it matches anywhere.
RegexResult regex_match(std::string_view pattern, std::string_view subject, bool& matched);
// re:replace(Subject, Pattern, Replacement, [global]), with Erlang's replacement syntax:
// & is the match, \N, \gN and \g{N} are group N, \& and \\ are themselves. TooLarge
// when the result would pass `max_bytes`.
RegexResult regex_replace(std::string_view pattern, std::string_view subject,
                          std::string_view replacement, std::size_t max_bytes, std::string& out);
// re:run(Subject, Pattern, [{capture, all_but_first, binary}]): the groups of the first
// match ("" for a group that took no part); empty when nothing matches.
RegexResult regex_extract(std::string_view pattern, std::string_view subject,
                          std::vector<std::string>& groups);

}  // namespace emqxd::rules::detail
