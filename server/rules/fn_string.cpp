// String functions that work character by character (emqx_variform_bif.erl: lower, trim,
// substr, pad, ... over Erlang's string module, which counts grapheme clusters: utf8.hpp).
// They take a string, or true/false as their names, as EMQX does with atoms.
#include <fmt/format.h>

#include <algorithm>

#include "rules/functions.hpp"
#include "rules/utf8.hpp"

namespace emqxd::rules::fn {

namespace json = boost::json;

namespace {

std::string join(std::span<const std::string_view> parts) {
  std::string out;
  for (auto p : parts)
    out.append(p);
  return out;
}

// string:trim/3: graphemes at the ends that `drop` accepts go.
enum class Ends { Leading, Trailing, Both };

template <class Drop>
std::string trim(std::string_view s, Ends ends, Drop drop) {
  auto g = detail::graphemes(s);
  std::size_t from = 0;
  std::size_t to = g.size();
  if (ends != Ends::Trailing) {
    while (from < to && drop(g[from]))
      ++from;
  }
  if (ends != Ends::Leading) {
    while (to > from && drop(g[to - 1]))
      --to;
  }
  return join(std::span<const std::string_view>(g).subspan(from, to - from));
}

bool trim_fn(Call& c, Value& out, Ends ends) {
  auto s = c.text(0);
  if (!s) return c.badarg();
  if (c.size() == 1) return c.text_out(out, trim(*s, ends, detail::is_whitespace));
  // trim(S, Chars): each character of Chars is one to drop.
  auto chars = c.text(1);
  if (!chars) return c.badarg();
  const auto set = detail::graphemes(*chars);
  return c.text_out(out, trim(*s, ends, [&](std::string_view g) {
                      return std::find(set.begin(), set.end(), g) != set.end();
                    }));
}

}  // namespace

bool lower_(Call& c, Value& out) {
  auto s = c.text(0);
  if (!s) return c.badarg();
  return c.text_out(out, detail::to_lower(*s));
}

bool upper_(Call& c, Value& out) {
  auto s = c.text(0);
  if (!s) return c.badarg();
  return c.text_out(out, detail::to_upper(*s));
}

bool trim_(Call& c, Value& out) {
  return trim_fn(c, out, Ends::Both);
}
bool ltrim_(Call& c, Value& out) {
  return trim_fn(c, out, Ends::Leading);
}
bool rtrim_(Call& c, Value& out) {
  return trim_fn(c, out, Ends::Trailing);
}

bool reverse_(Call& c, Value& out) {
  auto s = c.text(0);
  if (!s) return c.badarg();
  auto g = detail::graphemes(*s);
  std::reverse(g.begin(), g.end());
  return c.text_out(out, join(g));
}

bool strlen_(Call& c, Value& out) {
  auto s = c.text(0);
  if (!s) return c.badarg();
  out = json::value(static_cast<std::int64_t>(detail::graphemes(*s).size()));
  return true;
}

// string:slice/2,3: 0-based, in characters; past the end is "".
bool substr_(Call& c, Value& out) {
  auto s = c.text(0);
  auto start = c.integer(1);
  if (!s || !start || *start < 0) return c.badarg();
  std::optional<std::int64_t> len;
  if (c.size() == 3) {
    len = c.integer(2);
    if (!len || *len < 0) return c.badarg();
  }
  auto g = detail::graphemes(*s);
  const auto n = static_cast<std::int64_t>(g.size());
  const std::int64_t from = std::min(*start, n);
  const std::int64_t to = len ? std::min(n, from + std::min(*len, n)) : n;
  return c.text_out(out, join(std::span<const std::string_view>(g).subspan(
                             static_cast<std::size_t>(from), static_cast<std::size_t>(to - from))));
}

bool rm_prefix_(Call& c, Value& out) {
  auto s = c.text(0);
  auto prefix = c.str(1);
  if (!s || !prefix) return c.badarg();
  std::string_view p(*prefix);
  return c.text_out(out, std::string(s->substr(0, p.size()) == p ? s->substr(p.size()) : *s));
}

// string:pad/4: to Length characters; Char counts as one whatever it holds.
bool pad_(Call& c, Value& out) {
  auto s = c.text(0);
  auto len = c.integer(1);
  if (!s || !len) return c.badarg();
  std::string_view dir = "trailing";
  std::string_view fill = " ";
  if (c.size() >= 3) {
    auto d = c.str(2);
    if (!d || (*d != "leading" && *d != "trailing" && *d != "both")) return c.badarg();
    dir = *d;
  }
  if (c.size() == 4) {
    auto f = c.str(3);
    if (!f) return c.badarg();
    fill = *f;
  }
  const auto have = static_cast<std::int64_t>(detail::graphemes(*s).size());
  if (*len <= have) return c.text_out(out, std::string(*s));
  const std::int64_t missing = *len - have;
  // Erlang puts the odd one at the end.
  const std::int64_t left = dir == "leading" ? missing : (dir == "both" ? missing / 2 : 0);
  const std::int64_t right = missing - left;
  const std::size_t unit = std::max<std::size_t>(fill.size(), 1);
  if (static_cast<std::uint64_t>(missing) > (std::uint64_t{64} << 20) / unit) {
    return c.fail("length too large");
  }
  if (!c.charge(static_cast<std::size_t>(missing) * unit)) return false;
  std::string r;
  for (std::int64_t i = 0; i < left; ++i)
    r.append(fill);
  r.append(*s);
  for (std::int64_t i = 0; i < right; ++i)
    r.append(fill);
  out = json::value(json::string(r));
  return true;
}

bool ascii_(Call& c, Value& out) {
  auto s = c.text(0);
  if (!s || s->empty()) return c.badarg();
  out = json::value(static_cast<std::int64_t>(static_cast<unsigned char>((*s)[0])));
  return true;
}

// erlang:iolist_size/1: bytes, not characters.
bool bytesize_(Call& c, Value& out) {
  auto s = c.str(0);
  if (!s) return c.badarg();
  out = json::value(static_cast<std::int64_t>(s->size()));
  return true;
}

// The C escapes and \xH... (any number of hex digits, one code point), as EMQX 5.7's.
bool unescape_(Call& c, Value& out) {
  auto s = c.text(0);
  if (!s) return c.badarg();
  std::string r;
  for (std::size_t i = 0; i < s->size(); ++i) {
    const char ch = (*s)[i];
    if (ch != '\\' || i + 1 == s->size()) {
      r.push_back(ch);
      continue;
    }
    const char e = (*s)[++i];
    static constexpr std::string_view kFrom = "\\ntrbfv'\"?a";
    static constexpr std::string_view kTo = "\\\n\t\r\b\f\v'\"?\a";
    if (auto k = kFrom.find(e); k != std::string_view::npos) {
      r.push_back(kTo[k]);
      continue;
    }
    const auto hex = [](char h) {
      return (h >= '0' && h <= '9') || (h >= 'a' && h <= 'f') || (h >= 'A' && h <= 'F');
    };
    if (e == 'x' && i + 1 < s->size() && hex((*s)[i + 1])) {
      std::uint64_t cp = 0;
      while (i + 1 < s->size() && hex((*s)[i + 1])) {
        const char h = (*s)[++i];
        cp = cp * 16 + static_cast<std::uint64_t>(h <= '9' ? h - '0' : (h | 0x20) - 'a' + 10);
        if (cp > 0x10FFFF) return c.fail("invalid unicode character");
      }
      if (cp >= 0xD800 && cp <= 0xDFFF) return c.fail("invalid unicode character");
      detail::append_utf8(static_cast<char32_t>(cp), r);
      continue;
    }
    return c.fail(fmt::format("unrecognized escape sequence \\{}", e));
  }
  return c.text_out(out, std::move(r));
}

}  // namespace emqxd::rules::fn
