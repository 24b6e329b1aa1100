// Time functions (emqx_rule_funcs.erl over Erlang's calendar module): Unix time in
// 'second', 'millisecond', 'microsecond' or 'nanosecond', and RFC 3339 in the system's
// local time zone, as calendar:system_time_to_rfc3339/2 writes it ("+00:00", never "Z");
// format_date and date_to_unix_ts with EMQX's format strings (emqx_utils_calendar.erl).
#include <fmt/format.h>

#include <chrono>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

#include "rules/functions.hpp"

namespace emqxd::rules::fn {

namespace json = boost::json;

namespace {

// Units per second, for 'second' .. 'nanosecond'; 0 for anything else.
std::int64_t unit_factor(const Call& c, std::size_t i) {
  auto u = c.str(i);
  if (!u) return 0;
  if (*u == "second") return 1;
  if (*u == "millisecond") return 1'000;
  if (*u == "microsecond") return 1'000'000;
  if (*u == "nanosecond") return 1'000'000'000;
  return 0;
}

std::int64_t optional_unit(const Call& c, std::size_t i) {
  return c.size() > i ? unit_factor(c, i) : 1;
}

std::int64_t now_in(std::int64_t factor) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  return ns / (1'000'000'000 / factor);
}

// Days since 1970-01-01 of a civil date, and back (H. Hinnant's algorithms).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// calendar:system_time_to_rfc3339(Time, [{unit, Unit}]).
bool format_rfc3339(Call& c, Value& out, std::int64_t time, std::int64_t factor) {
  const std::int64_t secs = floor_div(time, factor);
  const std::int64_t frac = time - secs * factor;
  // Years 0 to 9999, as Erlang's check/3.
  if (secs < -62167219200 || secs >= 253402300800) return c.badarg();
  std::tm local{};
  const auto t = static_cast<std::time_t>(secs);
  long offset = 0;
  if (localtime_r(&t, &local) != nullptr) offset = local.tm_gmtoff;
  const std::int64_t shifted = secs + offset;
  const std::int64_t days = floor_div(shifted, 86400);
  const std::int64_t in_day = shifted - days * 86400;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::string s = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, in_day / 3600,
                              in_day % 3600 / 60, in_day % 60);
  if (factor > 1) {
    const int digits = factor == 1'000 ? 3 : (factor == 1'000'000 ? 6 : 9);
    s += fmt::format(".{:0{}}", frac, digits);
  }
  const long a = offset < 0 ? -offset : offset;
  s += fmt::format("{}{:02}:{:02}", offset < 0 ? '-' : '+', a / 3600, a % 3600 / 60);
  out = json::value(json::string(s));
  return true;
}

bool two_digits(std::string_view s, std::size_t at, int& v) {
  if (at + 2 > s.size() || s[at] < '0' || s[at] > '9' || s[at + 1] < '0' || s[at + 1] > '9') {
    return false;
  }
  v = (s[at] - '0') * 10 + (s[at + 1] - '0');
  return true;
}

// calendar:rfc3339_to_system_time/2: "YYYY-MM-DDThh:mm:ss[.f]" then Z, z or +hh:mm.
bool parse_rfc3339(std::string_view s, std::int64_t factor, std::int64_t& out) {
  int y1, y2, mo, d, h, mi, se;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
      !two_digits(s, 0, y1) || !two_digits(s, 2, y2) || !two_digits(s, 5, mo) ||
      !two_digits(s, 8, d) || !two_digits(s, 11, h) || !two_digits(s, 14, mi) ||
      !two_digits(s, 17, se)) {
    return false;
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const int year = y1 * 100 + y2;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kDays[mo - 1] || (mo == 2 && d == 29 && !leap) || h > 23 ||
      mi > 59 || se > 59) {
    return false;
  }
  std::string_view rest = s.substr(19);
  std::string_view fraction;
  if (!rest.empty() && rest[0] == '.') {
    std::size_t n = 1;
    while (n < rest.size() && rest[n] >= '0' && rest[n] <= '9')
      ++n;
    if (n == 1) return false;
    fraction = rest.substr(1, n - 1);
    rest.remove_prefix(n);
  }
  std::int64_t offset = 0;
  if (rest == "Z" || rest == "z") {
    offset = 0;
  } else {
    int oh, om;
    if (rest.size() != 6 || (rest[0] != '+' && rest[0] != '-') || rest[3] != ':' ||
        !two_digits(rest, 1, oh) || !two_digits(rest, 4, om)) {
      return false;
    }
    offset = (rest[0] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  const std::int64_t secs =
      days_from_civil(year, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 +
      h * 3600 + mi * 60 + se - offset;
  // Nanoseconds past 2262 need more than 64 bits (Erlang would make a bignum).
  if (__builtin_mul_overflow(secs, factor, &out)) return false;
  if (factor > 1 && !fraction.empty()) {
    // round(factor * 0.fraction), as Erlang's; only the first 18 digits can matter.
    const std::string f = "0." + std::string(fraction.substr(0, 18));
    const auto add = static_cast<std::int64_t>(
        std::llround(static_cast<long double>(factor) * std::strtold(f.c_str(), nullptr)));
    out = out < 0 ? out - add : out + add;
  }
  return true;
}

// emqx_utils_calendar:offset_second/1: seconds east of UTC from an integer, "local",
// "Z"/"z", "+hh:mm", "+hh:mm:ss" or "+hhmm" (hours to 23, minutes and seconds to 59).
std::optional<std::int64_t> offset_of_text(std::string_view t) {
  if (t == "Z" || t == "z") return 0;
  if (t == "local") {
    const std::time_t now = std::time(nullptr);
    std::tm local{};
    return localtime_r(&now, &local) != nullptr ? local.tm_gmtoff : 0;
  }
  if (t.empty() || (t[0] != '+' && t[0] != '-')) return std::nullopt;
  const std::int64_t sign = t[0] == '-' ? -1 : 1;
  t.remove_prefix(1);
  int h = 0, m = 0, sec = 0;
  if (t.size() == 4 && two_digits(t, 0, h) && two_digits(t, 2, m)) {
  } else if (t.size() == 5 && t[2] == ':' && two_digits(t, 0, h) && two_digits(t, 3, m)) {
  } else if (t.size() == 8 && t[2] == ':' && t[5] == ':' && two_digits(t, 0, h) &&
             two_digits(t, 3, m) && two_digits(t, 6, sec)) {
  } else {
    return std::nullopt;
  }
  if (h > 23 || m > 59 || sec > 59) return std::nullopt;
  return sign * (h * 3600 + m * 60 + sec);
}

std::optional<std::int64_t> offset_seconds(const Call& c, std::size_t i) {
  // In seconds: less than a day either way, as the texts allow.
  if (auto n = c.integer(i)) return *n > -86400 && *n < 86400 ? n : std::nullopt;
  auto s = c.str(i);
  return s ? offset_of_text(*s) : std::nullopt;
}

// The parts of EMQX's date format strings: %Y %m %d %H %M %S, %N (nanoseconds), %3N
// (milliseconds), %6N (microseconds), %z (+hhmm), %:z (+hh:mm), %::z (+hh:mm:ss); any
// other character stands for itself.
enum class Part { Year, Month, Day, Hour, Minute, Second, Nano, Milli, Micro, Z, Z1, Z2, Text };
// Each part's width in a date read back (emqx_utils_calendar's date_size), by Part.
constexpr std::size_t kWidth[] = {4, 2, 2, 2, 2, 2, 9, 3, 6, 5, 6, 9, 0};
struct Piece {
  Part part;
  std::string_view text;  // Part::Text: the characters
};

std::vector<Piece> pieces_of(std::string_view f) {
  static constexpr std::pair<std::string_view, Part> kTokens[] = {
      {"%Y", Part::Year},   {"%m", Part::Month},  {"%d", Part::Day},  {"%H", Part::Hour},
      {"%M", Part::Minute}, {"%S", Part::Second}, {"%N", Part::Nano}, {"%3N", Part::Milli},
      {"%6N", Part::Micro}, {"%z", Part::Z},      {"%:z", Part::Z1},  {"%::z", Part::Z2}};
  std::vector<Piece> out;
  std::size_t i = 0;
  while (i < f.size()) {
    bool token = false;
    for (const auto& [t, p] : kTokens) {
      if (f.substr(i).starts_with(t)) {
        out.push_back({p, {}});
        i += t.size();
        token = true;
        break;
      }
    }
    if (token) continue;
    if (!out.empty() && out.back().part == Part::Text) {
      out.back().text = std::string_view(out.back().text.data(), out.back().text.size() + 1);
    } else {
      out.push_back({Part::Text, f.substr(i, 1)});
    }
    ++i;
  }
  return out;
}

std::string zone_text(std::int64_t offset, Part p) {
  const char sign = offset >= 0 ? '+' : '-';
  const std::int64_t a = offset < 0 ? -offset : offset;
  const std::int64_t h = a / 3600, m = a % 3600 / 60, s = a % 60;
  if (p == Part::Z) return fmt::format("{}{:02}{:02}", sign, h, m);
  if (p == Part::Z1) return fmt::format("{}{:02}:{:02}", sign, h, m);
  return fmt::format("{}{:02}:{:02}:{:02}", sign, h, m, s);
}

// emqx_utils_calendar:format/4: `time` in units of 1/factor s, shown `offset` s east.
bool format_date(Call& c, Value& out, std::int64_t time, std::int64_t factor, std::int64_t offset,
                 std::string_view format) {
  std::int64_t shifted = 0;
  if (__builtin_mul_overflow(offset, factor, &shifted) ||
      __builtin_add_overflow(time, shifted, &shifted))
    return c.badarg();
  const std::int64_t secs = floor_div(shifted, factor);
  if (secs < -62167219200 || secs >= 253402300800) return c.badarg();  // years 0 to 9999
  // The fraction is the unshifted time's, as EMQX's trans_x_second (a remainder).
  const std::int64_t frac = time % factor;
  const std::int64_t ns = frac * (1'000'000'000 / factor);
  const std::int64_t days = floor_div(secs, 86400);
  const std::int64_t in_day = secs - days * 86400;
  std::int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  std::string s;
  for (const Piece& p : pieces_of(format)) {
    switch (p.part) {
      case Part::Text:
        s += p.text;
        break;
      case Part::Year:
        s += fmt::format("{:04}", y);
        break;
      case Part::Month:
        s += fmt::format("{:02}", m);
        break;
      case Part::Day:
        s += fmt::format("{:02}", d);
        break;
      case Part::Hour:
        s += fmt::format("{:02}", in_day / 3600);
        break;
      case Part::Minute:
        s += fmt::format("{:02}", in_day % 3600 / 60);
        break;
      case Part::Second:
        s += fmt::format("{:02}", in_day % 60);
        break;
      case Part::Nano:
        s += fmt::format("{:09}", ns);
        break;
      case Part::Milli:
        s += fmt::format("{:03}", ns / 1'000'000);
        break;
      case Part::Micro:
        s += fmt::format("{:06}", ns / 1'000);
        break;
      case Part::Z:
      case Part::Z1:
      case Part::Z2:
        s += zone_text(offset, p.part);
        break;
    }
  }
  return c.text_out(out, std::move(s));
}

// emqx_utils_calendar:formatted_datetime_to_system_time/3: each part of the format takes
// its width of the input (text parts too, whatever they hold: EMQX's compatibility);
// year to second are required, fractions and a zone optional. Then minus `offset` s.
bool parse_date(Call& c, Value& out, std::int64_t factor, std::int64_t offset,
                std::string_view format, std::string_view input) {
  std::optional<std::int64_t> part[6];  // year month day hour minute second
  std::int64_t nanos = 0, zone = 0;
  std::size_t at = 0;
  auto number = [&](std::size_t width) -> std::optional<std::int64_t> {
    if (at + width > input.size()) return std::nullopt;
    std::string_view t = input.substr(at, width);
    at += width;
    std::int64_t v = 0;
    const bool sign = t[0] == '-' || t[0] == '+';
    std::string_view digits = sign ? t.substr(1) : t;
    if (digits.empty()) return std::nullopt;
    for (char ch : digits) {
      if (ch < '0' || ch > '9') return std::nullopt;
      v = v * 10 + (ch - '0');
    }
    return t[0] == '-' ? -v : v;
  };
  for (const Piece& p : pieces_of(format)) {
    if (at >= input.size()) break;  // EMQX stops where the input ends
    if (p.part == Part::Text) {
      if (at + p.text.size() > input.size()) return c.badarg();
      at += p.text.size();
      continue;
    }
    const auto k = static_cast<std::size_t>(p.part);
    if (p.part >= Part::Z) {
      if (at + kWidth[k] > input.size()) return c.badarg();
      auto o = offset_of_text(input.substr(at, kWidth[k]));
      at += kWidth[k];
      if (!o) return c.badarg();
      zone = *o;
      continue;
    }
    auto v = number(kWidth[k]);
    if (!v) return c.badarg();
    if (p.part < Part::Nano) {
      part[k] = v;
    } else {  // %N, %3N, %6N
      nanos += *v * (p.part == Part::Nano ? 1 : p.part == Part::Milli ? 1'000'000 : 1'000);
    }
  }
  for (int i = 0; i < 6; ++i) {
    if (!part[i]) return c.fail("missing a part of the date (year to second are required)");
  }
  static constexpr int kDays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const std::int64_t year = *part[0], mo = *part[1], day = *part[2];
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 0 || year > 9999 || mo < 1 || mo > 12 || day < 1 || day > kDays[mo - 1] ||
      (mo == 2 && day == 29 && !leap) || *part[3] < 0 || *part[3] > 23 || *part[4] < 0 ||
      *part[4] > 59 || *part[5] < 0 || *part[5] > 59)
    return c.badarg();
  std::int64_t secs =
      days_from_civil(year, static_cast<unsigned>(mo), static_cast<unsigned>(day)) * 86400 +
      *part[3] * 3600 + *part[4] * 60 + *part[5] - zone;
  std::int64_t t = 0;
  if (__builtin_sub_overflow(secs, offset, &secs) || __builtin_mul_overflow(secs, factor, &t))
    return c.badarg();
  if (__builtin_add_overflow(t, nanos / (1'000'000'000 / factor), &t)) return c.badarg();
  out = json::value(t);
  return true;
}

}  // namespace

bool format_date_(Call& c, Value& out) {
  const std::int64_t factor = unit_factor(c, 0);
  auto offset = offset_seconds(c, 1);
  auto format = c.text(2);
  if (factor == 0 || !offset || !format) return c.badarg();
  std::int64_t time = now_in(factor);
  if (c.size() > 3) {
    auto t = c.integer(3);
    if (!t) return c.badarg();
    time = *t;
  }
  return format_date(c, out, time, factor, *offset, *format);
}

bool date_to_unix_ts_(Call& c, Value& out) {
  const std::int64_t factor = unit_factor(c, 0);
  const bool with_offset = c.size() == 4;
  auto offset = with_offset ? offset_seconds(c, 1) : std::optional<std::int64_t>(0);
  auto format = c.text(with_offset ? 2 : 1);
  auto input = c.text(with_offset ? 3 : 2);
  if (factor == 0 || !offset || !format || !input) return c.badarg();
  return parse_date(c, out, factor, *offset, *format, *input);
}

bool timezone_to_offset_seconds_(Call& c, Value& out) {
  auto o = offset_seconds(c, 0);
  if (!o) return c.badarg();
  out = json::value(*o);
  return true;
}

bool now_timestamp_(Call& c, Value& out) {
  const std::int64_t factor = optional_unit(c, 0);
  if (factor == 0) return c.badarg();
  out = json::value(now_in(factor));
  return true;
}

bool now_rfc3339_(Call& c, Value& out) {
  const std::int64_t factor = optional_unit(c, 0);
  if (factor == 0) return c.badarg();
  return format_rfc3339(c, out, now_in(factor), factor);
}

bool unix_ts_to_rfc3339_(Call& c, Value& out) {
  auto t = c.integer(0);
  const std::int64_t factor = optional_unit(c, 1);
  if (!t || factor == 0) return c.badarg();
  return format_rfc3339(c, out, *t, factor);
}

bool rfc3339_to_unix_ts_(Call& c, Value& out) {
  auto s = c.str(0);
  const std::int64_t factor = optional_unit(c, 1);
  if (!s || factor == 0) return c.badarg();
  std::int64_t t = 0;
  if (!parse_rfc3339(*s, factor, t)) return c.badarg();
  out = json::value(t);
  return true;
}

}  // namespace emqxd::rules::fn
