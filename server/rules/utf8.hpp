#pragma once
// Characters as Erlang's string module counts them, for the string functions.
//
// Erlang's string functions work on grapheme clusters: "\r\n" is one character, and so is
// "e" followed by a combining accent. Here a cluster is a code point with the combining
// marks, variation selectors, emoji modifiers and zero-width-joined code points after it,
// and "\r\n"; that covers what messages carry, not every rule of Unicode's UAX #29 (no
// Hangul syllable or regional-indicator rules). A byte that does not start well-formed
// UTF-8 is a character of its own, so that any binary has a length. Internal to
// server/rules.
#include <string>
#include <string_view>
#include <vector>

namespace emqxd::rules::detail {

std::vector<std::string_view> graphemes(std::string_view s);

// Unicode simple case mapping of each code point (C.UTF-8's towlower/towupper); bytes
// that are not UTF-8 are kept as they are.
std::string to_lower(std::string_view s);
std::string to_upper(std::string_view s);

// Erlang's whitespace for string:trim/1: " \t\n\v\f\r", U+0085, U+200E, U+200F, U+2028,
// U+2029, and "\r\n".
bool is_whitespace(std::string_view grapheme);

void append_utf8(char32_t cp, std::string& out);

}  // namespace emqxd::rules::detail
