#include "rules/value.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "common/json_text.hpp"

namespace emqxd::rules {

namespace json = boost::json;

bool is_integer(const json::value& v) {
  return v.is_int64() || v.is_uint64();
}

std::optional<std::int64_t> as_int(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v.get_uint64());
  }
  return std::nullopt;
}

std::optional<double> as_double(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

namespace {

// Erlang's term order ranks: number < atom < map < list < binary. nullptr is undefined.
int rank(const json::value* v) {
  if (v == nullptr) return 1;  // the atom undefined
  switch (v->kind()) {
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_:
      return 0;
    case json::kind::bool_:
    case json::kind::null:
      return 1;
    case json::kind::object:
      return 2;
    case json::kind::array:
      return 3;
    case json::kind::string:
      return 4;
  }
  return 5;
}

std::string_view atom_name(const json::value* v) {
  if (v == nullptr) return "undefined";
  if (v->is_null()) return "null";
  return v->get_bool() ? "true" : "false";
}

int sign(int c) {
  return c < 0 ? -1 : (c > 0 ? 1 : 0);
}

int compare_numbers(const json::value& a, const json::value& b) {
  auto ia = as_int(a);
  auto ib = as_int(b);
  if (ia && ib) return *ia < *ib ? -1 : (*ia > *ib ? 1 : 0);
  if (a.is_uint64() && b.is_uint64()) {
    return a.get_uint64() < b.get_uint64() ? -1 : (a.get_uint64() > b.get_uint64() ? 1 : 0);
  }
  double da = *as_double(a);
  double db = *as_double(b);
  return da < db ? -1 : (da > db ? 1 : 0);
}

std::vector<const json::key_value_pair*> sorted(const json::object& o) {
  std::vector<const json::key_value_pair*> v;
  v.reserve(o.size());
  for (const auto& kv : o)
    v.push_back(&kv);
  std::sort(v.begin(), v.end(), [](auto* x, auto* y) { return x->key() < y->key(); });
  return v;
}

int compare(const json::value* a, const json::value* b, bool exact) {
  const int ra = rank(a);
  const int rb = rank(b);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      // =:= tells 1 from 1.0; == and the order do not.
      if (exact && is_integer(*a) != is_integer(*b)) return a->is_double() ? 1 : -1;
      return compare_numbers(*a, *b);
    case 1:
      return sign(atom_name(a).compare(atom_name(b)));
    case 2: {
      const auto& oa = a->get_object();
      const auto& ob = b->get_object();
      if (oa.size() != ob.size()) return oa.size() < ob.size() ? -1 : 1;
      auto ka = sorted(oa);
      auto kb = sorted(ob);
      for (std::size_t i = 0; i < ka.size(); ++i) {
        int c = sign(ka[i]->key().compare(kb[i]->key()));
        if (c != 0) return c;
      }
      for (std::size_t i = 0; i < ka.size(); ++i) {
        int c = compare(&ka[i]->value(), &kb[i]->value(), exact);
        if (c != 0) return c;
      }
      return 0;
    }
    case 3: {
      const auto& la = a->get_array();
      const auto& lb = b->get_array();
      for (std::size_t i = 0; i < la.size() && i < lb.size(); ++i) {
        int c = compare(&la[i], &lb[i], exact);
        if (c != 0) return c;
      }
      return la.size() == lb.size() ? 0 : (la.size() < lb.size() ? -1 : 1);
    }
    default:
      return sign(std::string_view(a->get_string()).compare(std::string_view(b->get_string())));
  }
}

const json::value* ptr(const Value& v) {
  return v ? &*v : nullptr;
}

// io_lib:printable_list/1 over Latin-1, which decides whether EMQX writes a list as text.
bool printable_list(const json::array& a) {
  for (const auto& e : a) {
    auto i = as_int(e);
    if (!i) return false;
    const std::int64_t c = *i;
    bool ok = (c >= 32 && c <= 126) || (c >= 160 && c <= 255) || c == '\n' || c == '\r' ||
              c == '\t' || c == '\v' || c == '\b' || c == '\f' || c == 27;
    if (!ok) return false;
  }
  return true;
}

void append_utf8(std::uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

void append_shortest(double d, std::string& out) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, static_cast<std::size_t>(end - buf));
  out.append(s);
  if (s.find_first_of(".eE") == std::string_view::npos && std::isfinite(d)) out += ".0";
}

}  // namespace

bool loose_equal(const Value& a, const Value& b) {
  return compare(ptr(a), ptr(b), false) == 0;
}
bool exact_equal(const Value& a, const Value& b) {
  return compare(ptr(a), ptr(b), true) == 0;
}
bool exact_equal(const json::value* a, const json::value* b) {
  return compare(a, b, true) == 0;
}
int term_compare(const Value& a, const Value& b) {
  return compare(ptr(a), ptr(b), false);
}

std::string float_text(double f, int decimals, bool compact) {
  if (!std::isfinite(f)) return std::isnan(f) ? "nan" : (f < 0 ? "-inf" : "inf");
  // Erlang's fast path (erts sys_double_to_chars_fast): integer part and scaled fraction
  // as integers, so digits past ~17 significant ones come from the double's error, as in
  // EMQX's own examples (float2str(20.2, 17) = '20.19999999999999928').
  constexpr double kMaxFast = 9007199254740992.0 * 2;  // 2^54
  std::string out;
  const double af = std::fabs(f);
  if (af > kMaxFast || decimals >= 19) {
    char buf[1024];  // 309 digits, a point and 253 decimals at most
    int n = std::snprintf(buf, sizeof buf, "%.*f", decimals, f);
    if (n < 0 || static_cast<std::size_t>(n) >= sizeof buf) return fmt::format("{}", f);
    out.assign(buf, static_cast<std::size_t>(n));
  } else {
    static constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
                                        1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};
    std::uint64_t int_part;
    std::string frac;
    if (decimals > 0) {
      const double int_f = std::floor(af);
      const double frac_f = std::round((af - int_f) * kPow10[decimals]);
      int_part = static_cast<std::uint64_t>(int_f);
      std::uint64_t frac_part = static_cast<std::uint64_t>(frac_f);
      if (frac_f >= kPow10[decimals]) {
        ++int_part;
        frac_part = 0;
      }
      frac = fmt::format("{:0{}}", frac_part, decimals);
    } else {
      int_part = static_cast<std::uint64_t>(std::llround(af));
    }
    if (f < 0) out.push_back('-');
    out += fmt::format("{}", int_part);
    if (decimals > 0) out += "." + frac;
  }
  if (compact && decimals > 0) {
    std::size_t end = out.size();
    while (end > 0 && out[end - 1] == '0')
      --end;
    if (end > 0 && out[end - 1] == '.') ++end;
    out.resize(end);
  }
  return out;
}

void append_text(const Value& v, std::string& out) {
  if (!v) {
    out += "undefined";
    return;
  }
  append_text(*v, out);
}

void append_text(const json::value& value, std::string& out) {
  const json::value* v = &value;
  switch (v->kind()) {
    case json::kind::string:
      out.append(v->get_string().data(), v->get_string().size());
      return;
    case json::kind::int64:
      out += fmt::format("{}", v->get_int64());
      return;
    case json::kind::uint64:
      out += fmt::format("{}", v->get_uint64());
      return;
    case json::kind::double_:
      out += float_text(v->get_double(), 10, true);
      return;
    case json::kind::bool_:
    case json::kind::null:
      out += atom_name(v);
      return;
    case json::kind::array:
      if (printable_list(v->get_array())) {
        for (const auto& e : v->get_array())
          append_utf8(static_cast<std::uint32_t>(*as_int(e)), out);
        return;
      }
      append_json(*v, out);
      return;
    case json::kind::object:
      append_json(*v, out);
      return;
  }
}

std::string to_text(const Value& v) {
  std::string out;
  append_text(v, out);
  return out;
}

void append_json(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::null:
      out += "null";
      return;
    case json::kind::bool_:
      out += v.get_bool() ? "true" : "false";
      return;
    case json::kind::int64:
      out += fmt::format("{}", v.get_int64());
      return;
    case json::kind::uint64:
      out += fmt::format("{}", v.get_uint64());
      return;
    case json::kind::double_:
      append_shortest(v.get_double(), out);
      return;
    case json::kind::string:
      json_text::append_quoted(v.get_string(), out);
      return;
    case json::kind::array: {
      out.push_back('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out.push_back(',');
        first = false;
        append_json(e, out);
      }
      out.push_back(']');
      return;
    }
    case json::kind::object: {
      out.push_back('{');
      bool first = true;
      for (const auto* kv : sorted(v.get_object())) {
        if (!first) out.push_back(',');
        first = false;
        json_text::append_quoted(kv->key(), out);
        out.push_back(':');
        append_json(kv->value(), out);
      }
      out.push_back('}');
      return;
    }
  }
}

std::string json_encode(const Value& v) {
  if (!v) return "\"undefined\"";
  std::string out;
  append_json(*v, out);
  return out;
}

std::optional<json::value> json_decode(std::string_view text) {
  json::parse_options opts;
  opts.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) return std::nullopt;
  return v;
}

std::size_t depth(const json::value& v, std::size_t limit) {
  if (limit == 0) return 1;
  std::size_t below = 0;
  if (v.is_array()) {
    for (const auto& e : v.get_array()) {
      below = std::max(below, depth(e, limit - 1));
      if (below > limit) break;
    }
  } else if (v.is_object()) {
    for (const auto& kv : v.get_object()) {
      below = std::max(below, depth(kv.value(), limit - 1));
      if (below > limit) break;
    }
  }
  return below + 1;
}

std::optional<json::value> parse_erlang_number(std::string_view s) {
  // binary_to_integer: an optional sign and digits.
  std::string_view digits = s;
  bool neg = false;
  if (!digits.empty() && (digits[0] == '+' || digits[0] == '-')) {
    neg = digits[0] == '-';
    digits.remove_prefix(1);
  }
  auto all_digits = [](std::string_view d) {
    return !d.empty() &&
           std::all_of(d.begin(), d.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (all_digits(digits)) {
    std::int64_t i = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), i);
    if (ec == std::errc{}) return json::value(neg ? -i : i);
    return json::value(std::strtod(std::string(s).c_str(), nullptr));  // a bignum in Erlang
  }
  // binary_to_float: digits '.' digits, then an optional exponent.
  std::size_t dot = digits.find('.');
  if (dot == std::string_view::npos || !all_digits(digits.substr(0, dot))) return std::nullopt;
  std::string_view rest = digits.substr(dot + 1);
  std::size_t e = rest.find_first_of("eE");
  if (!all_digits(rest.substr(0, e))) return std::nullopt;
  if (e != std::string_view::npos) {
    std::string_view exp = rest.substr(e + 1);
    if (!exp.empty() && (exp[0] == '+' || exp[0] == '-')) exp.remove_prefix(1);
    if (!all_digits(exp)) return std::nullopt;
  }
  double d = std::strtod(std::string(s).c_str(), nullptr);
  if (!std::isfinite(d)) return std::nullopt;
  return json::value(d);
}

std::string_view type_name(const Value& v) {
  if (!v) return "undefined";
  switch (v->kind()) {
    case json::kind::int64:
    case json::kind::uint64:
      return "integer";
    case json::kind::double_:
      return "float";
    case json::kind::string:
      return "string";
    case json::kind::bool_:
      return "boolean";
    case json::kind::null:
      return "null";
    case json::kind::array:
      return "array";
    case json::kind::object:
      return "object";
  }
  return "value";
}

}  // namespace emqxd::rules
