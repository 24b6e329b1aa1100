#pragma once
// JSON string literals for text that may hold anything: log messages, names from the
// network. Boost.JSON escapes quotes, backslashes and control characters but passes other
// bytes through, so ill-formed UTF-8 would make the output invalid JSON (RFC 8259 section
// 8.1); here each byte that does not start a well-formed sequence becomes U+FFFD first.
#include <string>
#include <string_view>

namespace emqxd::json_text {

// Appends `text` to `out` as a JSON string, quotes included.
void append_quoted(std::string_view text, std::string& out);

// `text` with every ill-formed UTF-8 byte replaced by U+FFFD (RFC 3629: no overlong forms,
// no surrogates, nothing above U+10FFFF); `text` itself when it is well formed.
std::string_view valid_utf8(std::string_view text, std::string& scratch);

}  // namespace emqxd::json_text
