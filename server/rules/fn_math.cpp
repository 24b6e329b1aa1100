// Mathematical and bitwise functions (emqx_rule_funcs.erl, "Math Funcs", "Bits Funcs").
// Erlang's math module fails (badarith) where C's returns NaN or infinity: so do these.
#include <cmath>
#include <cstdint>
#include <random>

#include "rules/functions.hpp"

namespace emqxd::rules::fn {

namespace json = boost::json;

namespace {

bool real(Call& c, Value& out, double (*f)(double)) {
  auto x = c.number(0);
  if (!x) return c.badarg();
  const double r = f(*x);
  if (!std::isfinite(r)) return c.fail("bad argument (out of the function's domain)");
  out = json::value(r);
  return true;
}

// ceil/floor/round: an integer, which must fit int64 (Erlang's would be a bignum).
bool to_integer(Call& c, Value& out, double (*f)(double)) {
  if (auto i = c.integer(0)) {
    out = json::value(*i);
    return true;
  }
  auto x = c.number(0);
  if (!x) return c.badarg();
  const double r = f(*x);
  if (!(r >= -9.2e18 && r <= 9.2e18)) return c.fail("result out of range");
  out = json::value(static_cast<std::int64_t>(r));
  return true;
}

bool two_ints(Call& c, std::int64_t& a, std::int64_t& b) {
  auto x = c.integer(0);
  auto y = c.integer(1);
  if (!x || !y) return false;
  a = *x;
  b = *y;
  return true;
}

bool shift_left(Call& c, Value& out, std::int64_t x, std::int64_t n) {
  if (n < 0) {
    out = json::value(n <= -64 ? (x < 0 ? -1 : 0) : x >> -n);
    return true;
  }
  std::int64_t r = 0;
  if (x != 0 && (n >= 63 || __builtin_mul_overflow(x, std::int64_t{1} << n, &r))) {
    return c.fail("result out of range");
  }
  out = json::value(r);
  return true;
}

}  // namespace

bool abs_(Call& c, Value& out) {
  if (auto i = c.integer(0); i && *i != INT64_MIN) {
    out = json::value(*i < 0 ? -*i : *i);
    return true;
  }
  return real(c, out, [](double x) { return std::fabs(x); });
}

bool acos_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::acos(x); });
}
bool acosh_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::acosh(x); });
}
bool asin_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::asin(x); });
}
bool asinh_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::asinh(x); });
}
bool atan_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::atan(x); });
}
bool atanh_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::atanh(x); });
}
bool cos_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::cos(x); });
}
bool cosh_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::cosh(x); });
}
bool exp_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::exp(x); });
}
bool log_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::log(x); });
}
bool log10_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::log10(x); });
}
bool log2_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::log2(x); });
}
bool sin_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::sin(x); });
}
bool sinh_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::sinh(x); });
}
bool sqrt_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::sqrt(x); });
}
bool tan_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::tan(x); });
}
bool tanh_(Call& c, Value& out) {
  return real(c, out, [](double x) { return std::tanh(x); });
}

bool ceil_(Call& c, Value& out) {
  return to_integer(c, out, [](double x) { return std::ceil(x); });
}
bool floor_(Call& c, Value& out) {
  return to_integer(c, out, [](double x) { return std::floor(x); });
}
// Erlang's round/1 rounds halves away from zero, as std::round does.
bool round_(Call& c, Value& out) {
  return to_integer(c, out, [](double x) { return std::round(x); });
}

bool fmod_(Call& c, Value& out) {
  auto x = c.number(0);
  auto y = c.number(1);
  if (!x || !y) return c.badarg();
  const double r = std::fmod(*x, *y);
  if (!std::isfinite(r)) return c.fail("bad argument (out of the function's domain)");
  out = json::value(r);
  return true;
}

bool power_(Call& c, Value& out) {
  auto x = c.number(0);
  auto y = c.number(1);
  if (!x || !y) return c.badarg();
  const double r = std::pow(*x, *y);
  if (!std::isfinite(r)) return c.fail("bad argument (out of the function's domain)");
  out = json::value(r);
  return true;
}

bool random_(Call&, Value& out) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  out = json::value(std::uniform_real_distribution<double>(0.0, 1.0)(gen));
  return true;
}

bool bitnot_(Call& c, Value& out) {
  auto x = c.integer(0);
  if (!x) return c.badarg();
  out = json::value(~*x);
  return true;
}

bool bitand_(Call& c, Value& out) {
  std::int64_t a, b;
  if (!two_ints(c, a, b)) return c.badarg();
  out = json::value(a & b);
  return true;
}

bool bitor_(Call& c, Value& out) {
  std::int64_t a, b;
  if (!two_ints(c, a, b)) return c.badarg();
  out = json::value(a | b);
  return true;
}

bool bitxor_(Call& c, Value& out) {
  std::int64_t a, b;
  if (!two_ints(c, a, b)) return c.badarg();
  out = json::value(a ^ b);
  return true;
}

bool bitsl_(Call& c, Value& out) {
  std::int64_t a, b;
  if (!two_ints(c, a, b)) return c.badarg();
  return shift_left(c, out, a, b);
}

bool bitsr_(Call& c, Value& out) {
  std::int64_t a, b;
  if (!two_ints(c, a, b)) return c.badarg();
  if (b == INT64_MIN) return c.badarg();
  return shift_left(c, out, a, -b);
}

}  // namespace emqxd::rules::fn
