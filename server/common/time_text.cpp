#include "common/time_text.hpp"

#include <charconv>
#include <cstdio>
#include <ctime>

namespace emqxd::time_text {

// Unix seconds as RFC 3339 in UTC ("2026-12-05T13:00:00+00:00", the form EMQX writes).
std::string rfc3339(std::int64_t s) {
  std::time_t t = static_cast<std::time_t>(s);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
  return buf;
}

// "2026-12-05T13:00:00Z", "...+01:00", "...-05:30", with optional fractions of a second.
std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  auto num = [&](std::size_t at, std::size_t n, int& out) {
    if (at + n > text.size()) return false;
    auto [p, ec] = std::from_chars(text.data() + at, text.data() + at + n, out);
    return ec == std::errc() && p == text.data() + at + n;
  };
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, se = 0;
  if (text.size() < 20 || !num(0, 4, y) || text[4] != '-' || !num(5, 2, mo) || text[7] != '-' ||
      !num(8, 2, d) || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !num(11, 2, h) ||
      text[13] != ':' || !num(14, 2, mi) || text[16] != ':' || !num(17, 2, se)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t i = 19;
  if (i < text.size() && text[i] == '.') {
    ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9')
      ++i;
  }
  std::int64_t offset = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh = 0, om = 0;
    if (!num(i + 1, 2, oh) || i + 3 >= text.size() || text[i + 3] != ':' || !num(i + 4, 2, om) ||
        oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset = (text[i] == '+' ? 1 : -1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return std::nullopt;
  }
  if (i != text.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return static_cast<std::int64_t>(timegm(&tm)) - offset;
}

std::string rfc3339_ms(std::int64_t ms) {
  const std::int64_t s = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  std::string out = rfc3339(s);  // "...:SS+00:00"
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms - s * 1000));
  out.insert(19, frac);
  return out;
}

std::optional<std::int64_t> parse_time_ms(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of("0123456789") == std::string_view::npos) {
    std::int64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return v;
  }
  auto s = parse_rfc3339(text);
  if (!s) return std::nullopt;
  std::int64_t ms = 0;  // the fraction, to the millisecond
  if (text.size() > 20 && text[19] == '.') {
    int digits = 0;
    for (std::size_t i = 20; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
      if (digits++ < 3) ms = ms * 10 + (text[i] - '0');
    }
    for (; digits < 3; ++digits)
      ms *= 10;
  }
  return *s * 1000 + ms;
}

}  // namespace emqxd::time_text
