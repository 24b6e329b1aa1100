// Type conversions and checks (emqx_rule_funcs.erl over emqx_utils_conv.erl).
#include <cmath>

#include "rules/functions.hpp"

namespace emqxd::rules::fn {

namespace json = boost::json;

namespace {

// ill-formed UTF-8 is what unicode:characters_to_binary/1 refuses.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
  while (i < s.size()) {
    const unsigned char c = b(i);
    std::size_t n = 0;
    if (c < 0x80) {
      n = 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = cont(i + 1) ? 2 : 0;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = cont(i + 1) && cont(i + 2) && !(c == 0xE0 && b(i + 1) < 0xA0) &&
                  !(c == 0xED && b(i + 1) > 0x9F)
              ? 3
              : 0;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = cont(i + 1) && cont(i + 2) && cont(i + 3) && !(c == 0xF0 && b(i + 1) < 0x90) &&
                  !(c == 0xF4 && b(i + 1) > 0x8F)
              ? 4
              : 0;
    }
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// emqx_utils_conv:float/1.
std::optional<double> to_float(const Value& v) {
  if (!v) return std::nullopt;
  if (v->is_string()) {
    auto n = parse_erlang_number(std::string_view(v->get_string()));
    if (!n) return std::nullopt;
    return as_double(*n);
  }
  return as_double(*v);
}

bool check(Value& out, bool b) {
  out = json::value(b);
  return true;
}

}  // namespace

bool str_(Call& c, Value& out) {
  out = json::value(json::string(to_text(c[0])));
  return true;
}

bool str_utf8_(Call& c, Value& out) {
  std::string s = to_text(c[0]);
  if (!valid_utf8(s)) return c.fail("not UTF-8");
  out = json::value(json::string(s));
  return true;
}

bool bool_(Call& c, Value& out) {
  const Value& v = c[0];
  if (v && v->is_bool()) return check(out, v->get_bool());
  if (auto t = c.str(0)) {
    if (*t == "true") return check(out, true);
    if (*t == "false") return check(out, false);
    return c.badarg();
  }
  // N == 1 and N == 0 in Erlang: 1.0 and 0.0 too.
  if (auto n = c.number(0)) {
    if (*n == 1) return check(out, true);
    if (*n == 0) return check(out, false);
  }
  return c.badarg();
}

bool int_(Call& c, Value& out) {
  const Value& v = c[0];
  if (!v) return c.badarg();
  Value n = v;
  if (v->is_bool()) {
    out = json::value(v->get_bool() ? 1 : 0);
    return true;
  }
  if (v->is_string()) {
    n = parse_erlang_number(std::string_view(v->get_string()));
    if (!n) return c.badarg();
  }
  if (auto i = as_int(*n)) {
    out = json::value(*i);
    return true;
  }
  if (!n->is_number()) return c.badarg();
  // A float goes down to the integer below it (erlang:floor/1).
  const double f = std::floor(*as_double(*n));
  if (!(f >= -9.2e18 && f <= 9.2e18)) return c.fail("result out of range");
  out = json::value(static_cast<std::int64_t>(f));
  return true;
}

bool float_(Call& c, Value& out) {
  auto f = to_float(c[0]);
  if (!f) return c.badarg();
  if (c.size() == 2) {
    // float(X, Decimals): X rounded to at most Decimals decimals.
    auto d = c.integer(1);
    if (!d || *d <= 0 || *d > 253) return c.badarg();
    *f = std::strtod(float_text(*f, static_cast<int>(*d), false).c_str(), nullptr);
  }
  out = json::value(*f);
  return true;
}

bool float2str_(Call& c, Value& out) {
  auto f = c.number(0);
  auto d = c.integer(1);
  if (!f || !d || *d < 0 || *d > 253) return c.badarg();
  out = json::value(json::string(float_text(*f, static_cast<int>(*d), true)));
  return true;
}

bool map_(Call& c, Value& out) {
  if (auto o = c.object(0)) {
    out = json::value(*o);
    return true;
  }
  if (auto s = c.str(0)) {
    auto v = json_decode(*s);
    if (!v || !v->is_object()) return c.badarg();
    out = std::move(*v);
    return true;
  }
  // maps:from_list/1 wants {Key, Value} tuples, which JSON has not: only [] converts.
  if (auto a = c.array(0); a && a->empty()) {
    out = json::value(json::object());
    return true;
  }
  return c.badarg();
}

bool is_null_(Call& c, Value& out) {
  return check(out, !c[0]);
}
bool is_not_null_(Call& c, Value& out) {
  return check(out, c[0].has_value());
}
bool is_null_var_(Call& c, Value& out) {
  return check(out, !c[0] || c[0]->is_null());
}
bool is_not_null_var_(Call& c, Value& out) {
  return check(out, c[0] && !c[0]->is_null());
}
bool is_str_(Call& c, Value& out) {
  return check(out, c[0] && c[0]->is_string());
}
bool is_bool_(Call& c, Value& out) {
  return check(out, c[0] && c[0]->is_bool());
}
bool is_int_(Call& c, Value& out) {
  return check(out, c[0] && is_integer(*c[0]));
}
bool is_float_(Call& c, Value& out) {
  return check(out, c[0] && c[0]->is_double());
}
bool is_num_(Call& c, Value& out) {
  return check(out, c[0] && c[0]->is_number());
}
bool is_map_(Call& c, Value& out) {
  return check(out, c[0] && c[0]->is_object());
}
bool is_array_(Call& c, Value& out) {
  return check(out, c[0] && c[0]->is_array());
}

bool null_(Call&, Value& out) {
  out.reset();  // EMQX's null() is undefined
  return true;
}

}  // namespace emqxd::rules::fn
