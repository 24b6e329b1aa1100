// sprintf(Format, Args...): Erlang's io_lib:format/2, which EMQX calls. The control
// sequences rules use: ~s (text), ~p and ~w (a term as Erlang writes it: <<"bin">>,
// #{<<"k">> => 1}, on one line), ~B (integer), ~f (float, 6 decimals), ~c (a character),
// ~n and ~~; the t and l modifiers are accepted. Field widths, precisions and the other
// controls fail the call.
#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "rules/functions.hpp"
#include "rules/utf8.hpp"

namespace emqxd::rules::fn {

namespace json = boost::json;

namespace {

bool printable(unsigned char c) {
  return (c >= 32 && c <= 126) || c >= 160 || (c >= '\b' && c <= '\r') || c == 27;
}

// A float as ~p writes it: the shortest digits, always with a fraction ("1.0e20").
void write_float(double d, std::string& out) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, static_cast<std::size_t>(end - buf));
  const std::size_t e = s.find('e');
  std::string mantissa = s.substr(0, e);
  if (mantissa.find('.') == std::string::npos) mantissa += ".0";
  out += mantissa;
  if (e == std::string::npos) return;
  std::string_view exp(s);
  exp.remove_prefix(e + 1);
  out += 'e';
  if (exp[0] == '-') {
    out += '-';
    exp.remove_prefix(1);
  } else if (exp[0] == '+') {
    exp.remove_prefix(1);
  }
  while (exp.size() > 1 && exp[0] == '0')
    exp.remove_prefix(1);
  out += exp;
}

void write_binary(std::string_view s, std::string& out) {
  if (std::all_of(s.begin(), s.end(),
                  [](char c) { return printable(static_cast<unsigned char>(c)); })) {
    out += "<<\"";
    for (char c : s) {
      switch (c) {
        case '"':
          out += "\\\"";
          break;
        case '\\':
          out += "\\\\";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        default:
          out.push_back(c);
      }
    }
    out += "\">>";
    return;
  }
  out += "<<";
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i > 0) out += ',';
    char digits[4];
    auto [end, ec] =
        std::to_chars(digits, digits + sizeof digits, static_cast<unsigned char>(s[i]));
    out.append(digits, end);
  }
  out += ">>";
}

// nullptr is undefined.
void write_term(const json::value* v, bool pretty, std::string& out) {
  if (v == nullptr) {
    out += "undefined";
  } else if (v->is_bool() || v->is_null() || is_integer(*v)) {
    append_text(*v, out);
  } else if (v->is_double()) {
    write_float(v->get_double(), out);
  } else if (v->is_string()) {
    write_binary(v->get_string(), out);
  } else if (v->is_array()) {
    out += '[';
    bool first = true;
    for (const auto& e : v->get_array()) {
      if (!first) out += ',';
      first = false;
      write_term(&e, pretty, out);
    }
    out += ']';
  } else {
    std::vector<const json::key_value_pair*> kvs;
    for (const auto& kv : v->get_object())
      kvs.push_back(&kv);
    std::sort(kvs.begin(), kvs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
    out += "#{";
    bool first = true;
    for (const auto* kv : kvs) {
      if (!first) out += ',';
      first = false;
      write_binary(kv->key(), out);
      out += pretty ? " => " : "=>";
      write_term(&kv->value(), pretty, out);
    }
    out += '}';
  }
}

// ~s takes a string, an atom, or a list of character codes.
bool write_text(const Value& v, std::string& out) {
  if (!v) {
    out += "undefined";
    return true;
  }
  if (v->is_string() || v->is_bool() || v->is_null()) {
    append_text(v, out);
    return true;
  }
  if (v->is_array()) {
    for (const auto& e : v->get_array()) {
      auto cp = as_int(e);
      if (!cp || *cp < 0 || *cp > 0x10FFFF) return false;
      detail::append_utf8(static_cast<char32_t>(*cp), out);
    }
    return true;
  }
  return false;
}

}  // namespace

bool sprintf_(Call& c, Value& out) {
  auto format = c.text(0);
  if (!format) return c.badarg();
  const std::string_view f = *format;
  std::size_t next = 1;  // the next argument
  std::string r;
  for (std::size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '~') {
      r.push_back(f[i]);
      continue;
    }
    std::size_t j = i + 1;
    while (j < f.size() && (f[j] == 't' || f[j] == 'l'))
      ++j;
    if (j >= f.size()) return c.fail("format ends inside a control sequence");
    const char control = f[j];
    i = j;
    if (control == 'n') {
      r.push_back('\n');
      continue;
    }
    if (control == '~') {
      r.push_back('~');
      continue;
    }
    if (std::string_view("spwBfc").find(control) == std::string_view::npos) {
      return c.fail(fmt::format("unsupported control sequence ~{}", control));
    }
    if (next >= c.size()) return c.fail("too few arguments for the format");
    const Value& arg = c[next++];
    bool ok = true;
    switch (control) {
      case 's':
        ok = write_text(arg, r);
        break;
      case 'p':
      case 'w':
        write_term(arg ? &*arg : nullptr, control == 'p', r);
        break;
      case 'B':
        ok = arg && is_integer(*arg);
        if (ok) append_text(arg, r);
        break;
      case 'f':
        ok = arg && arg->is_double();
        if (ok) r += float_text(arg->get_double(), 6, false);
        break;
      default: {  // c
        auto cp = arg ? as_int(*arg) : std::nullopt;
        ok = cp && *cp >= 0 && *cp <= 0x10FFFF;
        if (ok) detail::append_utf8(static_cast<char32_t>(*cp), r);
      }
    }
    if (!ok) return c.fail(fmt::format("bad argument {} for ~{}", next - 1, control));
    if (r.size() > c.budget_left()) return c.fail("the result is too large");
  }
  if (next != c.size()) return c.fail("too many arguments for the format");
  if (!c.charge(r.size())) return false;
  out = json::value(json::string(r));
  return true;
}

}  // namespace emqxd::rules::fn
