// Time functions (emqx_rule_funcs.erl over Erlang's calendar module): Unix time in
// 'second', 'millisecond', 'microsecond' or 'nanosecond', and RFC 3339 in the system's
// local time zone, as calendar:system_time_to_rfc3339/2 writes it ("+00:00", never "Z").
#include <fmt/format.h>

#include <chrono>
#include <ctime>

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

}  // namespace

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
