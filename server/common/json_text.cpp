#include "common/json_text.hpp"

#include <boost/json/serializer.hpp>
#include <cstddef>
#include <cstdint>

namespace emqxd::json_text {

namespace {

// The length of the well-formed sequence at the start of `s`, or 0 (RFC 3629, Table 3-7
// of the Unicode Standard).
std::size_t sequence_length(std::string_view s) {
  auto b = [&](std::size_t i) { return static_cast<std::uint8_t>(s[i]); };
  auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const std::uint8_t c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) > 0x9F) return 0;  // U+D800..U+DFFF
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;  // overlong
    if (c == 0xF4 && b(1) > 0x8F) return 0;  // above U+10FFFF
    return 4;
  }
  return 0;  // a continuation byte, C0, C1, F5..FF
}

}  // namespace

std::string_view valid_utf8(std::string_view text, std::string& scratch) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t n = sequence_length(text.substr(i));
    if (n == 0) break;
    i += n;
  }
  if (i == text.size()) return text;
  scratch.assign(text.substr(0, i));
  while (i < text.size()) {
    std::size_t n = sequence_length(text.substr(i));
    if (n == 0) {
      scratch += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      scratch.append(text.substr(i, n));
      i += n;
    }
  }
  return scratch;
}

void append_quoted(std::string_view text, std::string& out) {
  std::string scratch;
  boost::json::serializer sr;
  sr.reset(valid_utf8(text, scratch));
  char buf[512];
  while (!sr.done()) {
    auto part = sr.read(buf, sizeof buf);
    out.append(part.data(), part.size());
  }
}

}  // namespace emqxd::json_text
