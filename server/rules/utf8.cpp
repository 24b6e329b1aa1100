#include "rules/utf8.hpp"

#include <locale.h>
#include <wctype.h>

namespace emqxd::rules::detail {

namespace {

// The code point at s[i] and its length; length 1 and valid false for a byte that does
// not start a well-formed sequence.
std::size_t decode(std::string_view s, std::size_t i, char32_t& cp, bool& valid) {
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  const unsigned char c = b(i);
  valid = true;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if (c >= 0xC2 && c <= 0xDF && cont(i + 1)) {
    cp = static_cast<char32_t>(((c & 0x1F) << 6) | (b(i + 1) & 0x3F));
    return 2;
  }
  if (c >= 0xE0 && c <= 0xEF && cont(i + 1) && cont(i + 2) && !(c == 0xE0 && b(i + 1) < 0xA0) &&
      !(c == 0xED && b(i + 1) > 0x9F)) {
    cp = static_cast<char32_t>(((c & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F));
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4 && cont(i + 1) && cont(i + 2) && cont(i + 3) &&
      !(c == 0xF0 && b(i + 1) < 0x90) && !(c == 0xF4 && b(i + 1) > 0x8F)) {
    cp = static_cast<char32_t>(((c & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) |
                               ((b(i + 2) & 0x3F) << 6) | (b(i + 3) & 0x3F));
    return 4;
  }
  cp = c;
  valid = false;
  return 1;
}

bool extends(char32_t cp) {
  return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
         (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
         (cp >= 0xFE00 && cp <= 0xFE0F) || (cp >= 0xFE20 && cp <= 0xFE2F) ||
         (cp >= 0x1F3FB && cp <= 0x1F3FF) || (cp >= 0xE0100 && cp <= 0xE01EF) || cp == 0x200D;
}

locale_t utf8_locale() {
  static const locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(0));
  return loc;
}

template <class Map>
std::string map_case(std::string_view s, Map map) {
  std::string out;
  out.reserve(s.size());
  const locale_t loc = utf8_locale();
  for (std::size_t i = 0; i < s.size();) {
    char32_t cp;
    bool valid;
    const std::size_t n = decode(s, i, cp, valid);
    if (!valid) {
      out.push_back(s[i]);
    } else if (loc != static_cast<locale_t>(0)) {
      append_utf8(static_cast<char32_t>(map(static_cast<wint_t>(cp), loc)), out);
    } else {
      out.append(s.substr(i, n));  // no C.UTF-8: ASCII only, below
      if (cp < 0x80) out.back() = static_cast<char>(map(static_cast<wint_t>(cp), loc));
    }
    i += n;
  }
  return out;
}

}  // namespace

void append_utf8(char32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::vector<std::string_view> graphemes(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    const std::size_t start = i;
    char32_t cp;
    bool valid;
    i += decode(s, i, cp, valid);
    if (cp == '\r' && i < s.size() && s[i] == '\n') {
      ++i;
    } else if (valid) {
      bool joined = cp == 0x200D;
      while (i < s.size()) {
        char32_t next;
        bool ok;
        const std::size_t n = decode(s, i, next, ok);
        if (!ok || !(joined || extends(next))) break;
        joined = next == 0x200D;
        i += n;
      }
    }
    out.push_back(s.substr(start, i - start));
  }
  return out;
}

std::string to_lower(std::string_view s) {
  return map_case(s, [](wint_t c, locale_t loc) {
    return loc != static_cast<locale_t>(0) ? towlower_l(c, loc)
                                           : (c >= 'A' && c <= 'Z' ? c + 32 : c);
  });
}

std::string to_upper(std::string_view s) {
  return map_case(s, [](wint_t c, locale_t loc) {
    return loc != static_cast<locale_t>(0) ? towupper_l(c, loc)
                                           : (c >= 'a' && c <= 'z' ? c - 32 : c);
  });
}

bool is_whitespace(std::string_view g) {
  if (g == "\r\n") return true;
  if (g.size() == 1) return g[0] == ' ' || (g[0] >= '\t' && g[0] <= '\r');
  return g == "\xC2\x85" || g == "\xE2\x80\x8E" || g == "\xE2\x80\x8F" || g == "\xE2\x80\xA8" ||
         g == "\xE2\x80\xA9";
}

}  // namespace emqxd::rules::detail
