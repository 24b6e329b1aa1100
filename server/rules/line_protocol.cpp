// InfluxDB line protocol templates (line_protocol.hpp).
#include "rules/line_protocol.hpp"

#include <array>
#include <charconv>
#include <cmath>

namespace emqxd::rules {

namespace json = boost::json;

namespace {

constexpr std::string_view kKeyEsc = ",= ";  // keys, tag values, unquoted field values

// The write_syntax being read, and where.
struct Cursor {
  std::string_view s;
  std::size_t i = 0;
  bool end() const { return i >= s.size(); }
  char peek() const { return s[i]; }
  // EMQX's strip_l: a separator between two items is passed over, never one at the end or
  // before a space (the next item then fails).
  void strip(char ch) {
    if (i + 1 < s.size() && s[i] == ch && s[i + 1] != ' ') ++i;
  }
};

// Reads up to one of `seps`: "\c" is c when c is one of `esc`; otherwise, where '\' is no
// escape itself, the two characters. A character of `esc` that is no separator, unescaped,
// is an error.
bool unescape(Cursor& c, std::string_view esc, std::string_view seps, std::string& out,
              std::string& error) {
  const bool backslash_escapes = esc.find('\\') != std::string_view::npos;
  while (!c.end()) {
    const char ch = c.peek();
    if (ch == '\\' && c.i + 1 < c.s.size()) {
      const char next = c.s[c.i + 1];
      if (esc.find(next) != std::string_view::npos) {
        out += next;
      } else if (!backslash_escapes) {
        out += '\\';
        out += next;
      } else {
        error = std::string("\"\\") + next + "\" is no escape in a quoted field value";
        return false;
      }
      c.i += 2;
      continue;
    }
    if (seps.find(ch) != std::string_view::npos) return true;
    if (esc.find(ch) != std::string_view::npos) {
      error = std::string("unexpected '") + (ch == '"' ? "\\\"" : std::string(1, ch)) +
              "' at offset " + std::to_string(c.i) + " (escape it with '\\')";
      return false;
    }
    out += ch;
    ++c.i;
  }
  return true;
}

bool is_true(std::string_view v) {
  return v == "t" || v == "T" || v == "true" || v == "True" || v == "TRUE";
}
bool is_false(std::string_view v) {
  return v == "f" || v == "F" || v == "false" || v == "False" || v == "FALSE";
}

std::optional<std::int64_t> integer_text(std::string_view v) {
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || p != v.data() + v.size() || v.empty()) return std::nullopt;
  return n;
}

// Whether the template's first part is a placeholder that reads nothing (EMQX leaves such
// a tag or field out).
bool leads_with_nothing(const Template& t, const json::object& data) {
  return t.parts() > 0 && t.is_placeholder(0) && !t.read(0, data);
}

// Escapes for what the data holds: a line break never ends the line.
void put_escaped(std::string_view text, std::string_view special, std::string& out) {
  for (char ch : text) {
    if (ch == '\n') {
      out += "\\n";
    } else if (ch == '\r') {
      out += "\\r";
    } else {
      if (ch == '\\' || special.find(ch) != std::string_view::npos) out += '\\';
      out += ch;
    }
  }
}
void put_string(std::string_view text, std::string& out) {
  out += '"';
  put_escaped(text, "\"", out);
  out += '"';
}

std::int64_t from_ms(std::int64_t ms, Precision p) {
  switch (p) {
    case Precision::Ns:
      return ms * 1'000'000;
    case Precision::Us:
      return ms * 1'000;
    case Precision::Ms:
      return ms;
    case Precision::S:
      return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);  // Erlang's: rounded down
  }
  return ms;
}

}  // namespace

std::optional<Precision> precision_from(std::string_view name) {
  if (name == "ns") return Precision::Ns;
  if (name == "us") return Precision::Us;
  if (name == "ms") return Precision::Ms;
  if (name == "s") return Precision::S;
  return std::nullopt;
}

std::optional<LineProtocol> LineProtocol::parse(std::string_view text, std::string& error) {
  LineProtocol lp;
  Cursor c{text};
  std::string what;
  auto fail = [&](const std::string& why) {
    error = "line " + std::to_string(lp.lines_.size() + 1) + ": " + why;
    return std::nullopt;
  };
  auto tmpl = [&](const std::string& t, const char* part) -> std::optional<Template> {
    std::string e;
    auto r = Template::parse(t, e);
    if (!r) what = std::string(part) + ": " + e;
    return r;
  };
  while (true) {
    while (!c.end() && (c.peek() == ' ' || c.peek() == '\n'))
      ++c.i;
    if (c.end()) break;
    Line line;
    std::string m;
    if (!unescape(c, ", ", ", ", m, what)) return fail(what);
    if (m.empty()) return fail("a line starts with its measurement");
    auto mt = tmpl(m, "the measurement");
    if (!mt) return fail(what);
    line.measurement = std::move(*mt);
    if (!c.end() && c.peek() == ',') {
      ++c.i;
      while (!c.end() && !(c.peek() == ' ' && !line.tags.empty())) {
        std::string k, v;
        if (!unescape(c, kKeyEsc, "=", k, what)) return fail(what);
        if (k.empty()) return fail("a tag without a key at offset " + std::to_string(c.i));
        c.strip('=');
        if (!unescape(c, kKeyEsc, ", ", v, what)) return fail(what);
        if (v.empty()) return fail("tag " + k + " has no value (tag=value)");
        c.strip(',');
        auto kt = tmpl(k, "a tag key");
        if (!kt) return fail(what);
        auto vt = tmpl(v, "a tag value");
        if (!vt) return fail(what);
        line.tags.emplace_back(std::move(*kt), std::move(*vt));
      }
    }
    if (c.end() || c.peek() != ' ')
      return fail("the fields follow the measurement and its tags after a space");
    while (!c.end() && c.peek() == ' ')
      ++c.i;
    while (!c.end() && c.peek() != ' ' && c.peek() != '\n') {
      std::string k, v;
      if (!unescape(c, kKeyEsc, "=", k, what)) return fail(what);
      if (k.empty()) return fail("a field without a key at offset " + std::to_string(c.i));
      c.strip('=');
      FieldValue f;
      if (!c.end() && c.peek() == '"') {
        ++c.i;
        if (!unescape(c, "\"\\", "\"", v, what)) return fail(what);
        if (c.end()) return fail("field " + k + ": the quoted value has no closing '\"'");
        ++c.i;
        auto vt = tmpl(v, "a field value");
        if (!vt) return fail(what);
        f.kind = Kind::String;
        f.t = std::move(*vt);
      } else {
        if (!unescape(c, kKeyEsc, ", \n", v, what)) return fail(what);
        if (v.empty()) return fail("field " + k + " has no value (field=value)");
        auto vt = tmpl(v, "a field value");
        if (!vt) return fail(what);
        const Template& t = *vt;
        if (!t.has_placeholders()) {
          const char last = v.back();
          const auto num = parse_erlang_number(v);
          const auto whole = (last == 'i' || last == 'u')
                                 ? parse_erlang_number(std::string_view(v).substr(0, v.size() - 1))
                                 : std::nullopt;
          if (is_true(v) || is_false(v)) {
            f.kind = Kind::Bool;
            f.constant = is_true(v) ? "true" : "false";
          } else if (whole) {
            // "12i" is 12; "1.5i" is 1 (EMQX rounds down). InfluxDB's integers are 64-bit:
            // a constant past that is refused here rather than by every write.
            f.kind = last == 'i' ? Kind::Int : Kind::UInt;
            const std::string_view digits = std::string_view(v).substr(0, v.size() - 1);
            std::uint64_t u = 0;
            const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), u);
            if (whole->is_double() && last == 'u' && ec == std::errc{} &&
                end == digits.data() + digits.size()) {
              f.constant = std::to_string(u);  // past int64, still a uint64
            } else if (whole->is_double()) {
              const double d = std::trunc(whole->get_double());
              constexpr double k2to63 = 9223372036854775808.0;
              if (last == 'i' ? !(d >= -k2to63 && d < k2to63) : !(d >= 0 && d < 2 * k2to63))
                return fail("field " + k + ": " + v + " is out of the 64-bit integer range");
              f.constant = last == 'i' ? std::to_string(static_cast<std::int64_t>(d))
                                       : std::to_string(static_cast<std::uint64_t>(d));
            } else {
              f.constant = to_text(*whole);
            }
          } else if (num) {
            f.kind = Kind::Float;
            f.constant = v;
          } else {
            f.kind = Kind::String;
            f.t = t;
          }
        } else if (t.parts() == 2 && t.is_placeholder(0) && !t.is_placeholder(1) &&
                   (t.literal(1) == "i" || t.literal(1) == "u")) {
          f.kind = t.literal(1) == "i" ? Kind::Int : Kind::UInt;
          f.suffixed = true;
          f.t = *Template::parse(std::string_view(v).substr(0, v.size() - 1), what);
        } else if (t.single()) {
          f.kind = Kind::Typed;
          f.t = t;
        } else {
          f.kind = Kind::String;
          f.t = t;
        }
      }
      c.strip(',');
      auto kt = tmpl(k, "a field key");
      if (!kt) return fail(what);
      line.fields.emplace_back(std::move(*kt), std::move(f));
    }
    if (line.fields.empty()) return fail("a point has at least one field (key=value)");
    if (!c.end() && c.peek() == ' ') {
      while (!c.end() && c.peek() == ' ')
        ++c.i;
      std::string ts;
      if (!unescape(c, kKeyEsc, " \n", ts, what)) return fail(what);
      if (!ts.empty() && ts != "${timestamp}") {  // that one: as none, in ms
        auto tt = tmpl(ts, "the timestamp");
        if (!tt) return fail(what);
        if (tt->has_placeholders() ? !tt->single() : !integer_text(ts)) {
          return fail("the timestamp \"" + ts +
                      "\" is an integer or one placeholder that reads one");
        }
        line.timestamp = std::move(*tt);
      }
    }
    lp.lines_.push_back(std::move(line));
  }
  if (lp.lines_.empty()) {
    error = "empty: at least one line, measurement[,tag=value...] field=value[,...] [timestamp]";
    return std::nullopt;
  }
  return lp;
}

bool LineProtocol::render(const json::object& data, Precision precision, std::string& out,
                          std::string& error) const {
  const std::size_t start = out.size();
  auto fail = [&](std::string why) {
    out.resize(start);
    error = std::move(why);
    return false;
  };
  std::string text;
  for (const Line& line : lines_) {
    text.clear();
    line.measurement.render(data, text);
    put_escaped(text, ", ", out);
    for (const auto& [k, v] : line.tags) {
      if (leads_with_nothing(k, data) || leads_with_nothing(v, data)) continue;
      out += ',';
      text.clear();
      k.render(data, text);
      put_escaped(text, ",= ", out);
      out += '=';
      text.clear();
      v.render(data, text);
      put_escaped(text, ",= ", out);
    }
    out += ' ';
    bool any = false;
    for (const auto& [k, f] : line.fields) {
      if (leads_with_nothing(k, data)) continue;
      const std::size_t before = out.size();
      if (any) out += ',';
      text.clear();
      k.render(data, text);
      put_escaped(text, ",= ", out);
      out += '=';
      bool written = true;
      switch (f.kind) {
        case Kind::Float:
        case Kind::Bool:
          out += f.constant;
          break;
        case Kind::Int:
        case Kind::UInt:
          if (!f.suffixed) {
            out += f.constant;
            out += f.kind == Kind::Int ? 'i' : 'u';
            break;
          }
          if (Value v = f.t.value(data); !v) {
            written = false;
          } else if (auto n = is_integer(*v) ? as_int(*v) : std::nullopt) {
            out += std::to_string(*n);
            out += f.kind == Kind::Int ? 'i' : 'u';
          } else if (v->is_uint64()) {
            out += std::to_string(v->get_uint64());
            out += f.kind == Kind::Int ? 'i' : 'u';
          } else {
            text = to_text(v);
            text += f.kind == Kind::Int ? 'i' : 'u';
            put_string(text, out);
          }
          break;
        case Kind::String:
          if (leads_with_nothing(f.t, data)) {
            written = false;
            break;
          }
          text.clear();
          f.t.render(data, text);
          put_string(text, out);
          break;
        case Kind::Typed: {
          Value v = f.t.value(data);
          if (!v) {
            written = false;
          } else if (v->is_number()) {
            out += to_text(v);
          } else if (v->is_bool()) {
            out += v->get_bool() ? "true" : "false";
          } else if (v->is_string() && (is_true(v->get_string()) || is_false(v->get_string()))) {
            out += is_true(v->get_string()) ? "true" : "false";
          } else {
            put_string(to_text(v), out);
          }
          break;
        }
      }
      if (written) {
        any = true;
      } else {
        out.resize(before);
      }
    }
    if (!any) return fail("no field to write: every field's value read nothing");
    if (!line.timestamp) {
      const auto* ts = data.if_contains("timestamp");
      if (auto ms = ts != nullptr ? as_int(*ts) : std::nullopt) {
        out += ' ';
        out += std::to_string(from_ms(*ms, precision));
      }
      // No timestamp in the output (a rule that selects some fields): the server's time.
    } else {
      const Template& t = *line.timestamp;
      std::optional<std::int64_t> n;
      if (!t.has_placeholders()) {
        n = integer_text(t.source());
      } else if (Value v = t.value(data); v && as_int(*v)) {
        n = as_int(*v);
      } else if (v && v->is_string()) {
        n = integer_text(v->get_string());
      }
      if (!n) return fail("the timestamp " + t.source() + " does not read an integer");
      out += ' ';
      out += std::to_string(*n);
    }
    out += '\n';
  }
  return true;
}

}  // namespace emqxd::rules
