// HOCON parser and substitution resolver; hocon.hpp says what subset and why.
//
// Parsing builds a tree in one pass. Where the spec defers work to resolution, the tree
// keeps transient nodes: Substitution (${x}), Concatenation (parts that include a
// substitution), DelayedMerge (a value layered over a substitution, merged once both are
// known). Self-references (`a = ${a} x`, `a += x`) are replaced at parse time by the
// earlier value of the field: the parser keeps a stack of the objects under construction
// (Frame), outermost first, and folds the values found at the field's path in each.
//
// Resolution walks the tree and replaces each transient node in place. Objects and arrays
// are never resized while resolving, so pointers into them stay valid; a node being
// resolved is on an "active" list, and meeting it again is a cycle.
#include "config/hocon.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <utility>

namespace emqxd::config::hocon {

std::string Origin::to_string() const {
  if (line <= 0) return file;
  return file + ":" + std::to_string(line);
}

namespace {

constexpr int kMaxNesting = 100;
constexpr int kMaxIncludeDepth = 32;
constexpr int kMaxResolveDepth = 400;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v' ||
         (c >= '\x1c' && c <= '\x1f');
}

// The spec's forbidden characters for unquoted text, minus '@' (EMQX allows it).
bool is_forbidden(char c) {
  return c != '\0' && std::string_view("$\"{}[]:=,+#`^?!*&\\").find(c) != std::string_view::npos;
}

// JSON number grammar: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
bool is_json_number(std::string_view s) {
  std::size_t i = 0;
  auto digit = [&](std::size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '9'; };
  if (i < s.size() && s[i] == '-') ++i;
  if (!digit(i)) return false;
  if (s[i] == '0') {
    ++i;
  } else {
    while (digit(i))
      ++i;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (!digit(i)) return false;
    while (digit(i))
      ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digit(i)) return false;
    while (digit(i))
      ++i;
  }
  return i == s.size();
}

bool is_transient(Value::Kind k) {
  return k == Value::Kind::Substitution || k == Value::Kind::Concatenation ||
         k == Value::Kind::DelayedMerge;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

void json_quote(std::string& out, std::string_view s) {
  out += '"';
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
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

bool needs_quotes(std::string_view key) {
  if (key.empty()) return true;
  for (char c : key) {
    if (c == '.' || is_space(c) || c == '\n' || is_forbidden(c)) return true;
  }
  return false;
}

bool starts_with(std::span<const std::string> path, std::span<const std::string> prefix) {
  return path.size() >= prefix.size() && std::equal(prefix.begin(), prefix.end(), path.begin());
}

std::optional<std::string> read_file(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  return std::move(ss).str();
}

std::string dir_of(const std::string& file) {
  return std::filesystem::path(file).parent_path().string();
}

}  // namespace

// ----------------------------------------------------------------------------- Value

Value Value::make_null(Origin origin) {
  Value v;
  v.origin_ = std::move(origin);
  return v;
}

Value Value::make_bool(bool b, Origin origin) {
  Value v;
  v.kind_ = Kind::Bool;
  v.bool_ = b;
  v.text_ = b ? "true" : "false";
  v.origin_ = std::move(origin);
  return v;
}

Value Value::make_number(std::string text, Origin origin) {
  Value v;
  v.kind_ = Kind::Number;
  v.text_ = std::move(text);
  v.origin_ = std::move(origin);
  return v;
}

Value Value::make_string(std::string text, Origin origin) {
  Value v;
  v.kind_ = Kind::String;
  v.text_ = std::move(text);
  v.origin_ = std::move(origin);
  return v;
}

Value Value::make_array(std::vector<Value> elements, Origin origin) {
  Value v;
  v.kind_ = Kind::Array;
  v.text_.clear();
  v.elements_ = std::move(elements);
  v.origin_ = std::move(origin);
  return v;
}

Value Value::make_object(Origin origin) {
  Value v;
  v.kind_ = Kind::Object;
  v.text_.clear();
  v.origin_ = std::move(origin);
  return v;
}

std::optional<bool> Value::to_bool() const {
  if (kind_ == Kind::Bool) return bool_;
  if (kind_ != Kind::String) return std::nullopt;
  if (text_ == "true" || text_ == "yes" || text_ == "on") return true;
  if (text_ == "false" || text_ == "no" || text_ == "off") return false;
  return std::nullopt;
}

std::optional<std::int64_t> Value::to_int() const {
  if (kind_ != Kind::Number && kind_ != Kind::String) return std::nullopt;
  if (!is_json_number(text_)) return std::nullopt;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), n);
  if (ec == std::errc() && p == text_.data() + text_.size()) return n;
  if (ec == std::errc::result_out_of_range) return std::nullopt;
  // 1.0, 1e3: integral values written as decimals.
  auto d = to_double();
  if (!d || !std::isfinite(*d) || std::trunc(*d) != *d || std::fabs(*d) > 9.0e15) {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(*d);
}

std::optional<double> Value::to_double() const {
  if (kind_ != Kind::Number && kind_ != Kind::String) return std::nullopt;
  if (!is_json_number(text_)) return std::nullopt;
  double d = 0;
  auto [p, ec] = std::from_chars(text_.data(), text_.data() + text_.size(), d);
  if (ec != std::errc() || p != text_.data() + text_.size()) return std::nullopt;
  return d;
}

const Value* Value::find(std::string_view key) const {
  for (const auto& f : fields_) {
    if (f.key == key) return &f.value;
  }
  return nullptr;
}

const Value* Value::find(std::span<const std::string> path) const {
  const Value* v = this;
  for (const auto& key : path) {
    if (v->kind_ != Kind::Object) return nullptr;
    v = v->find(key);
    if (v == nullptr) return nullptr;
  }
  return v;
}

const Value* Value::at(std::string_view dotted) const {
  Path path;
  std::size_t start = 0;
  while (true) {
    auto dot = dotted.find('.', start);
    path.emplace_back(dotted.substr(start, dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return find(path);
}

std::string Value::to_json() const {
  std::string out;
  switch (kind_) {
    case Kind::Null:
    case Kind::Bool:
    case Kind::Number:
      return text_;
    case Kind::String:
      json_quote(out, text_);
      return out;
    case Kind::Array:
      out += '[';
      for (std::size_t i = 0; i < elements_.size(); ++i) {
        if (i > 0) out += ',';
        out += elements_[i].to_json();
      }
      out += ']';
      return out;
    case Kind::Object:
      out += '{';
      for (std::size_t i = 0; i < fields_.size(); ++i) {
        if (i > 0) out += ',';
        json_quote(out, fields_[i].key);
        out += ':';
        out += fields_[i].value.to_json();
      }
      out += '}';
      return out;
    case Kind::Substitution:
      return std::string("<${") + (optional_ ? "?" : "") + path_to_string(path_) + "}>";
    case Kind::Concatenation:
    case Kind::DelayedMerge:
      out += kind_ == Kind::Concatenation ? "<concat" : "<merge";
      for (const auto& e : elements_)
        out += " " + e.to_json();
      out += '>';
      return out;
    case Kind::Space:
      return "<space>";
    case Kind::Undefined:
      return "<undefined>";
  }
  return out;
}

std::string path_to_string(std::span<const std::string> path) {
  std::string out;
  for (std::size_t i = 0; i < path.size(); ++i) {
    if (i > 0) out += '.';
    if (needs_quotes(path[i])) {
      json_quote(out, path[i]);
    } else {
      out += path[i];
    }
  }
  return out;
}

// ----------------------------------------------------------------------------- Tree

namespace detail {

// An object under construction, with the path it will have in the document. A detached
// frame is an object inside an array: it has no path, and self-references do not look
// past it.
struct Frame {
  Value* object;
  Path prefix;
  bool detached;
};

// Tree edits shared by the parser and set_path.
struct Tree {
  static bool transient(const Value& v) { return is_transient(v.kind_); }

  static Value* find_mut(Value& obj, std::string_view key) {
    for (auto& f : obj.fields_) {
      if (f.key == key) return &f.value;
    }
    return nullptr;
  }

  // Layers `next` over `prev`: objects merge, a substitution defers the merge, anything
  // else replaces.
  static void merge(Value& prev, Value&& next) {
    if (next.kind_ == Value::Kind::Object && prev.kind_ == Value::Kind::Object) {
      for (auto& f : next.fields_)
        merge_field(prev, f.key, std::move(f.value));
      prev.origin_ = std::move(next.origin_);
      return;
    }
    bool defer = transient(next) || (next.kind_ == Value::Kind::Object && transient(prev));
    if (!defer) {
      prev = std::move(next);
      return;
    }
    if (prev.kind_ == Value::Kind::DelayedMerge) {
      prev.elements_.push_back(std::move(next));
      return;
    }
    Value m;
    m.kind_ = Value::Kind::DelayedMerge;
    m.origin_ = next.origin_;
    m.elements_.push_back(std::move(prev));
    m.elements_.push_back(std::move(next));
    prev = std::move(m);
  }

  static void merge_field(Value& obj, const std::string& key, Value&& value) {
    if (Value* prev = find_mut(obj, key)) {
      merge(*prev, std::move(value));
    } else {
      obj.fields_.push_back(Field{key, std::move(value)});
    }
  }

  // Finds `path` below `v` through objects only: a transient node on the way hides what
  // is below it until resolution, so it counts as not found.
  static const Value* find_static(const Value& v, std::span<const std::string> path) {
    const Value* cur = &v;
    for (const auto& key : path) {
      if (cur->kind_ != Value::Kind::Object) return nullptr;
      cur = cur->find(key);
      if (cur == nullptr) return nullptr;
    }
    return cur;
  }

  // The value `full` has before the assignment being parsed: the values found in each
  // frame, outermost (earliest) first, layered.
  static std::optional<Value> previous(const std::vector<Frame>& frames, const Path& full) {
    std::size_t first = 0;
    for (std::size_t i = 0; i < frames.size(); ++i) {
      if (frames[i].detached) first = i;
    }
    std::optional<Value> acc;
    for (std::size_t i = first; i < frames.size(); ++i) {
      const Frame& f = frames[i];
      if (!starts_with(full, f.prefix)) continue;
      std::span<const std::string> rel(full.begin() + static_cast<std::ptrdiff_t>(f.prefix.size()),
                                       full.end());
      const Value* v = find_static(*f.object, rel);
      if (v == nullptr) continue;
      if (!acc) {
        acc = *v;
      } else {
        merge(*acc, Value(*v));
      }
    }
    return acc;
  }

  // `a = ${a} x`: a substitution at the top of a field's value whose path is the field's
  // path (or below it) takes the earlier value; with none, only the environment can
  // answer it. Objects and arrays holding ${a} are not self-references (spec).
  static void replace_self_refs(Value& value, const std::vector<Frame>& frames, const Path& full) {
    for (const auto& f : frames) {
      if (f.detached) return;
    }
    auto fix = [&](Value& s) {
      if (s.kind_ != Value::Kind::Substitution || s.env_only_) return;
      if (!starts_with(s.path_, full)) return;
      auto prev = previous(frames, full);
      if (prev) {
        std::span<const std::string> rest(
            s.path_.begin() + static_cast<std::ptrdiff_t>(full.size()), s.path_.end());
        if (const Value* below = find_static(*prev, rest)) {
          s = Value(*below);
          return;
        }
      }
      s.env_only_ = true;
    };
    if (value.kind_ == Value::Kind::Concatenation) {
      for (auto& part : value.elements_)
        fix(part);
    } else {
      fix(value);
    }
  }

  // Combines the parts of a concatenation whose substitutions are all resolved: all
  // objects merge, all arrays concatenate, simple values join as text.
  static Value concatenate(Value&& concat) {
    std::vector<Value>& parts = concat.elements_;
    parts.erase(std::remove_if(parts.begin(), parts.end(),
                               [](const Value& p) { return p.kind_ == Value::Kind::Undefined; }),
                parts.end());
    std::size_t objects = 0;
    std::size_t arrays = 0;
    std::size_t solid = 0;
    for (const auto& p : parts) {
      if (p.kind_ == Value::Kind::Space) continue;
      ++solid;
      if (p.kind_ == Value::Kind::Object) ++objects;
      if (p.kind_ == Value::Kind::Array) ++arrays;
    }
    Value undefined;
    undefined.kind_ = Value::Kind::Undefined;
    if (solid == 0) return undefined;
    if (parts.size() == 1) return std::move(parts[0]);
    if (objects > 0 || arrays > 0) {
      if (objects != solid && arrays != solid) {
        throw ConfigError(concat.origin_.to_string() + ": cannot concatenate " +
                          (objects > 0 ? "an object" : "an array") +
                          " with a value of another type");
      }
      Value out;
      bool first = true;
      for (auto& p : parts) {
        if (p.kind_ == Value::Kind::Space) continue;
        if (first) {
          out = std::move(p);
          first = false;
        } else if (objects > 0) {
          Tree::merge(out, std::move(p));
        } else {
          for (auto& e : p.elements_)
            out.elements_.push_back(std::move(e));
        }
      }
      return out;
    }
    std::string text;
    for (const auto& p : parts)
      text += p.text_;
    return Value::make_string(std::move(text), concat.origin_);
  }

  // `key = value` (or `key += value`) in the object of the innermost frame.
  static void assign(std::vector<Frame>& frames, const Path& key, Value value, bool append) {
    Frame& frame = frames.back();
    Path full = frame.prefix;
    full.insert(full.end(), key.begin(), key.end());
    Origin origin = value.origin_;
    if (append) {
      auto prev = previous(frames, full);
      if (!prev) {
        std::vector<Value> one;
        one.push_back(std::move(value));
        value = Value::make_array(std::move(one), origin);
      } else if (prev->kind_ == Value::Kind::Array) {
        prev->elements_.push_back(std::move(value));
        prev->origin_ = origin;
        value = std::move(*prev);
      } else if (transient(*prev)) {
        std::vector<Value> one;
        one.push_back(std::move(value));
        Value concat;
        concat.kind_ = Value::Kind::Concatenation;
        concat.origin_ = origin;
        concat.elements_.push_back(std::move(*prev));
        concat.elements_.push_back(Value::make_array(std::move(one), origin));
        value = std::move(concat);
      } else {
        throw ConfigError(origin.to_string() + ": " + path_to_string(full) +
                          ": += needs an array, the earlier value is not one");
      }
    } else {
      replace_self_refs(value, frames, full);
    }
    // a.b.c = v is a { b { c = v } }.
    for (std::size_t i = key.size(); i-- > 1;) {
      Value wrapper = Value::make_object(origin);
      wrapper.fields_.push_back(Field{key[i], std::move(value)});
      value = std::move(wrapper);
    }
    merge_field(*frame.object, key[0], std::move(value));
  }
};

// ----------------------------------------------------------------------------- Parser

struct Context {
  std::vector<Frame> frames;
  std::vector<std::string> open_files;  // the include chain, to report cycles
};

class Parser {
 public:
  Parser(std::string_view text, std::string name, std::string include_dir, Context& ctx,
         Path include_prefix, bool with_lines = true)
      : s_(text),
        name_(std::move(name)),
        dir_(std::move(include_dir)),
        ctx_(ctx),
        include_prefix_(std::move(include_prefix)),
        with_lines_(with_lines) {
    if (s_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;  // byte-order mark
  }

  Value parse_lone_value() {
    skip_all();
    Value v = parse_value({}, 0, "the value");
    skip_spaces();
    if (!at_end()) fail(line_, "unexpected " + describe_here() + " after the value");
    return v;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;
  int line_ = 1;
  std::string name_;
  std::string dir_;
  Context& ctx_;
  Path include_prefix_;  // non-empty in a file included below the root
  bool with_lines_;

  bool at_end() const { return pos_ >= s_.size(); }
  char peek(std::size_t ahead = 0) const {
    return pos_ + ahead < s_.size() ? s_[pos_ + ahead] : '\0';
  }
  bool has_ahead(std::size_t n) const { return pos_ + n < s_.size(); }
  bool at_comment() const {
    return !at_end() && (peek() == '#' || (peek() == '/' && has_ahead(1) && peek(1) == '/'));
  }
  Origin origin() const { return Origin{name_, with_lines_ ? line_ : 0}; }
  Origin origin_at(int line) const { return Origin{name_, with_lines_ ? line : 0}; }

  [[noreturn]] void fail(int line, const std::string& message) const {
    throw ConfigError(origin_at(line).to_string() + ": " + message);
  }

  std::string describe_here() const {
    if (at_end()) return "end of input";
    char c = peek();
    if (c == '\n') return "end of line";
    if (static_cast<unsigned char>(c) < 0x20) return "control character";
    return std::string("'") + c + "'";
  }

  // Most stray characters after a value come from unquoted text such as 0.0.0.0:1883.
  std::string quote_hint() const {
    if (at_end() || !is_forbidden(peek()) || peek() == '#' || peek() == '"') return "";
    return std::string(" (quote strings that contain '") + peek() + "')";
  }

  void skip_spaces() {
    while (!at_end() && is_space(peek()))
      ++pos_;
  }
  void skip_comment() {
    if (!at_comment()) return;
    while (!at_end() && peek() != '\n')
      ++pos_;
  }
  void skip_newline() {
    ++pos_;
    ++line_;
  }
  // Whitespace, new lines and comments.
  void skip_all() {
    while (!at_end()) {
      char c = peek();
      if (is_space(c)) {
        ++pos_;
      } else if (c == '\n') {
        skip_newline();
      } else if (at_comment()) {
        skip_comment();
      } else {
        break;
      }
    }
  }
  void skip_spaces_and_newlines() {
    while (!at_end() && (is_space(peek()) || peek() == '\n')) {
      if (peek() == '\n') {
        skip_newline();
      } else {
        ++pos_;
      }
    }
  }
  bool looking_at(std::string_view word) const { return s_.substr(pos_, word.size()) == word; }

  void push_frame(Value& obj, const Path& prefix, bool detached) {
    ctx_.frames.push_back(Frame{&obj, prefix, detached});
  }

  struct PopFrame {
    Context& ctx;
    ~PopFrame() { ctx.frames.pop_back(); }
  };

  // Fields up to '}' (braces) or the end of input.
  void parse_fields(Value& obj, const Path& prefix, bool detached, bool braces, int open_line,
                    int depth) {
    if (depth > kMaxNesting) fail(line_, "objects and arrays nested too deeply");
    push_frame(obj, prefix, detached);
    PopFrame pop{ctx_};
    while (true) {
      skip_all();
      if (at_end()) {
        if (braces) {
          fail(line_, "expected '}' before the end of input (object opened at line " +
                          std::to_string(open_line) + ")");
        }
        return;
      }
      char c = peek();
      if (c == '}') {
        if (!braces) fail(line_, "unexpected '}'");
        ++pos_;
        return;
      }
      if (c == ',') fail(line_, "unexpected ','");
      std::string key = parse_field(depth);
      if (!end_of_element('}')) {
        fail(line_, "unexpected " + describe_here() + " after the value of " + key + quote_hint());
      }
    }
  }

  // After a field or array element: a comma, a new line (possibly followed by a comma),
  // the closing bracket or the end of input. Consumes the comma; false if none is there.
  bool end_of_element(char close) {
    int line = line_;
    skip_spaces();
    skip_comment();
    std::size_t before = pos_;
    skip_all();
    if (!at_end() && peek() == ',') {
      ++pos_;
      return true;
    }
    if (at_end() || peek() == close || line_ != line) return true;
    pos_ = before;  // report the character right after the value
    return false;
  }

  // One field or include; returns the key, for messages.
  std::string parse_field(int depth) {
    if (try_include(depth)) return "include";
    Path key = parse_path('\0');
    skip_spaces();
    bool append = false;
    char c = peek();
    if (c == '=' || c == ':') {
      ++pos_;
      skip_spaces_and_newlines();
    } else if (c == '+' && has_ahead(1) && peek(1) == '=') {
      pos_ += 2;
      append = true;
      skip_spaces_and_newlines();
    } else if (at_end() || c != '{') {
      fail(line_,
           "expected '=', ':' or '{' after " + path_to_string(key) + ", got " + describe_here());
    }
    Path full = ctx_.frames.back().prefix;
    full.insert(full.end(), key.begin(), key.end());
    Value value = parse_value(full, depth, path_to_string(key));
    Tree::assign(ctx_.frames, key, std::move(value), append);
    return path_to_string(key);
  }

  // A path expression: a key (stops before a separator) or the inside of ${...} (stops
  // before '}').
  Path parse_path(char stop) {
    Path path;
    std::string cur;
    bool has_piece = false;  // the current element has something, even ""
    std::string pending_space;
    int start_line = line_;
    auto end_element = [&]() {
      if (!has_piece) fail(start_line, "a path must not start or end with '.' or have '..'");
      path.push_back(std::move(cur));
      cur.clear();
      has_piece = false;
    };
    while (!at_end()) {
      char c = peek();
      if (c == stop) break;
      if (c == '"') {
        if (looking_at("\"\"\"")) fail(line_, "a key cannot be a triple-quoted string");
        if (has_piece) cur += pending_space;
        pending_space.clear();
        cur += parse_quoted_text();
        has_piece = true;
      } else if (is_space(c)) {
        while (!at_end() && is_space(peek()))
          pending_space += s_[pos_++];
      } else if (c == '.') {
        pending_space.clear();
        ++pos_;
        end_element();
      } else if (c != '\n' && !is_forbidden(c) && !at_comment()) {
        if (has_piece) cur += pending_space;
        pending_space.clear();
        std::size_t start = pos_;
        while (!at_end() && peek() != '.' && peek() != '\n' && !is_space(peek()) &&
               !is_forbidden(peek()) && !at_comment()) {
          ++pos_;
        }
        cur.append(s_.substr(start, pos_ - start));
        has_piece = true;
      } else {
        break;
      }
    }
    if (path.empty() && !has_piece) {
      fail(line_, "expected a key, got " + describe_here());
    }
    end_element();
    return path;
  }

  // include "f" | include file("f") | include required("f") | include required(file("f"))
  bool try_include(int depth) {
    if (!looking_at("include")) return false;
    std::size_t after = pos_ + 7;
    if (after < s_.size()) {
      char c = s_[after];
      if (c != '"' && !is_space(c) && c != '\n' && c != '(' && c != '.' && !is_forbidden(c) &&
          !(c == '/' && after + 1 < s_.size() && s_[after + 1] == '/')) {
        return false;  // a longer word such as "includes"
      }
    }
    int line = line_;
    pos_ = after;
    skip_spaces_and_newlines();
    bool required = false;
    int parens = 0;
    auto open = [&](std::string_view word) {
      if (!looking_at(word)) return false;
      pos_ += word.size();
      skip_spaces();
      ++parens;
      return true;
    };
    if (open("required(")) required = true;
    if (looking_at("url(") || looking_at("classpath(")) {
      fail(line_, "include url() and classpath() are not supported, use file()");
    }
    open("file(");
    if (at_end() || peek() != '"' || looking_at("\"\"\"")) {
      fail(line_, "expected a quoted file name after include");
    }
    std::string name = parse_quoted_text();
    for (; parens > 0; --parens) {
      skip_spaces();
      if (at_end() || peek() != ')') fail(line_, "expected ')' after the included file name");
      ++pos_;
    }
    include_file(name, required, line, depth);
    return true;
  }

  void include_file(const std::string& name, bool required, int line, int depth) {
    namespace fs = std::filesystem;
    if (name.empty()) fail(line, "include needs a file name");
    fs::path p(name);
    std::string path = (p.is_absolute() || dir_.empty()) ? name : (fs::path(dir_) / p).string();
    auto text = read_file(path);
    if (!text && !p.has_extension()) {
      path += ".conf";
      text = read_file(path);
    }
    if (!text) {
      if (required) fail(line, "cannot read included file " + path);
      return;
    }
    std::error_code ec;
    std::string id = fs::weakly_canonical(path, ec).string();
    if (ec) id = path;
    if (std::find(ctx_.open_files.begin(), ctx_.open_files.end(), id) != ctx_.open_files.end()) {
      fail(line, "include cycle: " + path + " includes itself");
    }
    if (ctx_.open_files.size() >= static_cast<std::size_t>(kMaxIncludeDepth)) {
      fail(line, "includes nested too deeply");
    }
    ctx_.open_files.push_back(id);
    const Frame& here = ctx_.frames.back();
    Path prefix = here.prefix;
    bool detached = here.detached;
    Value* target = here.object;
    Value included;
    {
      Parser sub(*text, path, dir_of(path), ctx_, prefix);
      // An include inside an array element's object stays detached.
      included = detached ? sub.parse_detached_document(prefix, depth)
                          : sub.parse_document_at(prefix, depth);
    }
    ctx_.open_files.pop_back();
    for (auto& f : included.fields_)
      Tree::merge_field(*target, f.key, std::move(f.value));
  }

 public:
  Value parse_document_at(const Path& prefix, int depth) {
    return parse_root(prefix, false, depth);
  }
  Value parse_detached_document(const Path& prefix, int depth) {
    return parse_root(prefix, true, depth);
  }

 private:
  Value parse_root(const Path& prefix, bool detached, int depth) {
    Value root = Value::make_object(origin());
    skip_all();
    if (!at_end() && peek() == '{') {
      int open_line = line_;
      ++pos_;
      parse_fields(root, prefix, detached, true, open_line, depth + 1);
      skip_all();
      if (!at_end()) fail(line_, "unexpected " + describe_here() + " after the root object");
    } else {
      if (!at_end() && peek() == '[') fail(line_, "an included file must contain an object");
      parse_fields(root, prefix, detached, false, line_, depth + 1);
    }
    return root;
  }

  // A field value or array element: one or more values on one line (concatenation).
  // `path` is where the value lands (for objects' frames); empty inside arrays.
  Value parse_value(const Path& path, int depth, const std::string& what) {
    if (depth > kMaxNesting) fail(line_, "objects and arrays nested too deeply");
    std::vector<Value> parts;
    bool has_substitution = false;
    int start_line = line_;
    while (!at_end()) {
      char c = peek();
      if (is_space(c)) {
        std::size_t start = pos_;
        skip_spaces();
        Value space;
        space.kind_ = Value::Kind::Space;
        space.text_ = std::string(s_.substr(start, pos_ - start));
        parts.push_back(std::move(space));
        continue;
      }
      if (c == '\n' || c == ',' || c == '}' || c == ']' || at_comment()) break;
      if (c == '{') {
        int open_line = line_;
        ++pos_;
        Value obj = Value::make_object(origin_at(open_line));
        parse_fields(obj, path, path.empty(), true, open_line, depth + 1);
        parts.push_back(std::move(obj));
      } else if (c == '[') {
        parts.push_back(parse_array(depth + 1));
      } else if (c == '"') {
        int l = line_;
        std::string text = parse_quoted_text();
        parts.push_back(Value::make_string(std::move(text), origin_at(l)));
      } else if (c == '$') {
        if (!has_ahead(1) || peek(1) != '{') {
          fail(line_, "'$' starts a substitution ${...}; quote a string that contains '$'");
        }
        parts.push_back(parse_substitution());
        has_substitution = true;
      } else if (is_forbidden(c)) {
        break;
      } else {
        parts.push_back(parse_unquoted());
      }
    }
    while (!parts.empty() && parts.back().kind_ == Value::Kind::Space)
      parts.pop_back();
    std::size_t first = 0;
    while (first < parts.size() && parts[first].kind_ == Value::Kind::Space)
      ++first;
    parts.erase(parts.begin(), parts.begin() + static_cast<std::ptrdiff_t>(first));
    if (parts.empty()) {
      fail(line_, "expected a value for " + what + ", got " + describe_here() + quote_hint());
    }
    if (parts.size() == 1) return std::move(parts[0]);
    Value concat;
    concat.kind_ = Value::Kind::Concatenation;
    concat.origin_ = origin_at(start_line);
    concat.elements_ = std::move(parts);
    if (has_substitution) return concat;
    return Tree::concatenate(std::move(concat));
  }

 private:
  Value parse_array(int depth) {
    if (depth > kMaxNesting) fail(line_, "objects and arrays nested too deeply");
    int open_line = line_;
    ++pos_;  // '['
    std::vector<Value> elements;
    while (true) {
      skip_all();
      if (at_end()) {
        fail(line_, "expected ']' before the end of input (array opened at line " +
                        std::to_string(open_line) + ")");
      }
      char c = peek();
      if (c == ']') {
        ++pos_;
        break;
      }
      if (c == ',') fail(line_, "unexpected ','");
      elements.push_back(parse_value({}, depth, "an array element"));
      if (!end_of_element(']')) fail(line_, "unexpected " + describe_here() + " in an array");
    }
    return Value::make_array(std::move(elements), origin_at(open_line));
  }

  // "..." with JSON escapes, or """...""" raw. Returns the text.
  std::string parse_quoted_text() {
    int start_line = line_;
    std::string out;
    if (looking_at("\"\"\"")) {
      pos_ += 3;
      while (true) {
        if (at_end()) fail(start_line, "unterminated \"\"\" string");
        if (looking_at("\"\"\"")) {
          // Any run of three or more quotes ends the string; the extra ones are content.
          std::size_t run = 0;
          while (has_ahead(run) && s_[pos_ + run] == '"')
            ++run;
          out.append(run - 3, '"');
          pos_ += run;
          return out;
        }
        char c = s_[pos_];
        if (c == '\n') {
          skip_newline();
        } else {
          ++pos_;
        }
        out += c;
      }
    }
    ++pos_;  // '"'
    while (true) {
      if (at_end()) fail(start_line, "unterminated string");
      char c = s_[pos_];
      if (c == '"') {
        ++pos_;
        return out;
      }
      if (c == '\n') {
        fail(start_line, "unterminated string (use \"\"\" for text across lines)");
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      if (!has_ahead(1)) fail(start_line, "unterminated string");
      char e = s_[pos_ + 1];
      pos_ += 2;
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          std::uint32_t cp = read_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!looking_at("\\u")) fail(line_, "invalid \\u escape: lone surrogate");
            pos_ += 2;
            std::uint32_t low = read_hex4();
            if (low < 0xDC00 || low > 0xDFFF) fail(line_, "invalid \\u escape: lone surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail(line_, "invalid \\u escape: lone surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default:
          fail(line_,
               std::string("invalid escape \\") +
                   (static_cast<unsigned char>(e) < 0x20 ? std::string("?") : std::string(1, e)) +
                   " in a quoted string (write \\\\ for a backslash)");
      }
    }
  }

  std::uint32_t read_hex4() {
    std::uint32_t cp = 0;
    for (int i = 0; i < 4; ++i) {
      if (at_end()) fail(line_, "invalid \\u escape");
      char h = s_[pos_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') {
        cp |= static_cast<std::uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        cp |= static_cast<std::uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        cp |= static_cast<std::uint32_t>(h - 'A' + 10);
      } else {
        fail(line_, "invalid \\u escape");
      }
    }
    return cp;
  }

  Value parse_substitution() {
    int line = line_;
    pos_ += 2;  // "${"
    bool optional = false;
    if (!at_end() && peek() == '?') {
      optional = true;
      ++pos_;
    }
    skip_spaces();
    Path path = parse_path('}');
    if (at_end() || peek() != '}') fail(line, "unterminated substitution, expected '}'");
    ++pos_;
    Value v;
    v.kind_ = Value::Kind::Substitution;
    v.optional_ = optional;
    v.origin_ = origin_at(line);
    if (include_prefix_.empty()) {
      v.path_ = std::move(path);
    } else {
      v.path_ = include_prefix_;
      v.path_.insert(v.path_.end(), path.begin(), path.end());
      v.alt_path_ = std::move(path);
    }
    return v;
  }

  // A run of unquoted text: true, false, null, a number, or a string.
  Value parse_unquoted() {
    std::size_t start = pos_;
    while (!at_end() && !is_space(peek()) && peek() != '\n' && !is_forbidden(peek()) &&
           !at_comment()) {
      ++pos_;
    }
    std::string text(s_.substr(start, pos_ - start));
    if (text == "true") return Value::make_bool(true, origin());
    if (text == "false") return Value::make_bool(false, origin());
    if (text == "null") return Value::make_null(origin());
    if (is_json_number(text)) return Value::make_number(std::move(text), origin());
    return Value::make_string(std::move(text), origin());
  }
};

// ----------------------------------------------------------------------------- Resolver

class Resolver {
 public:
  Resolver(Value& root, const Env& env) : root_(root), env_(env) {}

  void run() {
    resolve_deep(root_);
    strip_undefined(root_);
  }

 private:
  struct CycleError {
    std::string path;
  };

  Value& root_;
  const Env& env_;
  std::vector<const Value*> active_;   // transient nodes being resolved
  std::vector<const Value*> walking_;  // objects and arrays resolve_deep is inside
  int depth_ = 0;

  struct Guard {
    Resolver& r;
    Guard(Resolver& resolver, const Value& v) : r(resolver) {
      if (++r.depth_ > kMaxResolveDepth) {
        throw ConfigError(v.origin_.to_string() +
                          ": substitutions nested too deeply (is there a cycle?)");
      }
      r.active_.push_back(&v);
    }
    ~Guard() {
      r.active_.pop_back();
      --r.depth_;
    }
  };

  bool active(const Value& v) const {
    return std::find(active_.begin(), active_.end(), &v) != active_.end();
  }

  void resolve_deep(Value& v) {
    resolve_node(v);
    if (v.kind_ != Value::Kind::Object && v.kind_ != Value::Kind::Array) return;
    if (++depth_ > kMaxResolveDepth) {
      throw ConfigError(v.origin_.to_string() + ": values nested too deeply");
    }
    // Indexes, not iterators: nothing resizes these vectors during resolution, but a
    // lookup from a child may walk this same object.
    walking_.push_back(&v);
    if (v.kind_ == Value::Kind::Object) {
      for (std::size_t i = 0; i < v.fields_.size(); ++i)
        resolve_deep(v.fields_[i].value);
    } else {
      for (std::size_t i = 0; i < v.elements_.size(); ++i)
        resolve_deep(v.elements_[i]);
    }
    walking_.pop_back();
    --depth_;
  }

  // Replaces a transient node by its value (possibly Undefined); children stay as they are.
  void resolve_node(Value& v) {
    if (!is_transient(v.kind_)) return;
    if (active(v)) {
      throw CycleError{v.kind_ == Value::Kind::Substitution ? path_to_string(v.path_) : ""};
    }
    Guard guard(*this, v);
    Value result;
    switch (v.kind_) {
      case Value::Kind::Substitution:
        result = substitute(v);
        break;
      case Value::Kind::Concatenation: {
        for (std::size_t i = 0; i < v.elements_.size(); ++i)
          resolve_node(v.elements_[i]);
        Value concat;
        concat.kind_ = Value::Kind::Concatenation;
        concat.origin_ = v.origin_;
        concat.elements_ = std::move(v.elements_);
        result = Tree::concatenate(std::move(concat));
        break;
      }
      case Value::Kind::DelayedMerge: {
        // Resolve every part before moving any, so a cycle caught by an optional
        // substitution further up leaves this node intact.
        for (std::size_t i = 0; i < v.elements_.size(); ++i)
          resolve_node(v.elements_[i]);
        result.kind_ = Value::Kind::Undefined;
        for (auto& part : v.elements_) {
          if (part.kind_ == Value::Kind::Undefined) continue;
          if (result.kind_ == Value::Kind::Undefined) {
            result = std::move(part);
          } else {
            Tree::merge(result, std::move(part));
          }
        }
        break;
      }
      default:
        break;
    }
    v = std::move(result);
  }

  Value substitute(const Value& s) {
    const Path& written = s.alt_path_.empty() ? s.path_ : s.alt_path_;
    std::string shown = "${" + std::string(s.optional_ ? "?" : "") + path_to_string(written) + "}";
    if (!s.env_only_) {
      try {
        const Value* found = lookup(s.path_);
        if (found == nullptr && !s.alt_path_.empty()) found = lookup(s.alt_path_);
        // `a { b = ${a} }`: a value that contains the substitution itself.
        if (std::find(walking_.begin(), walking_.end(), found) != walking_.end()) {
          throw CycleError{path_to_string(written)};
        }
        if (found != nullptr) return *found;
      } catch (const CycleError&) {
        if (!s.optional_) {
          throw ConfigError(s.origin_.to_string() + ": substitution " + shown +
                            " is part of a cycle");
        }
        Value undefined;
        undefined.kind_ = Value::Kind::Undefined;
        return undefined;
      }
    }
    std::string var;
    for (std::size_t i = 0; i < written.size(); ++i) {
      if (i > 0) var += '.';
      var += written[i];
    }
    if (auto it = env_.find(var); it != env_.end()) {
      return Value::make_string(it->second, s.origin_);
    }
    if (s.optional_) {
      Value undefined;
      undefined.kind_ = Value::Kind::Undefined;
      return undefined;
    }
    throw ConfigError(s.origin_.to_string() + ": cannot resolve substitution " + shown +
                      ": no such key and no environment variable " + var);
  }

  // The node at `path`, with the transient nodes on the way resolved; nullptr if absent.
  const Value* lookup(const Path& path) {
    Value* node = &root_;
    for (const auto& key : path) {
      resolve_node(*node);
      if (node->kind_ != Value::Kind::Object) return nullptr;
      node = Tree::find_mut(*node, key);
      if (node == nullptr) return nullptr;
    }
    resolve_node(*node);
    if (node->kind_ == Value::Kind::Undefined) return nullptr;
    return node;
  }

  static void strip_undefined(Value& v) {
    if (v.kind_ == Value::Kind::Object) {
      auto& f = v.fields_;
      f.erase(
          std::remove_if(f.begin(), f.end(),
                         [](const Field& x) { return x.value.kind_ == Value::Kind::Undefined; }),
          f.end());
      for (auto& x : f)
        strip_undefined(x.value);
    } else if (v.kind_ == Value::Kind::Array) {
      auto& e = v.elements_;
      e.erase(std::remove_if(e.begin(), e.end(),
                             [](const Value& x) { return x.kind_ == Value::Kind::Undefined; }),
              e.end());
      for (auto& x : e)
        strip_undefined(x);
    }
  }
};

}  // namespace detail

// ----------------------------------------------------------------------------- API

Value parse_unresolved(std::string_view text, const std::string& name,
                       const std::string& include_dir) {
  detail::Context ctx;
  detail::Parser parser(text, name, include_dir, ctx, {});
  return parser.parse_document_at({}, 0);
}

Value parse_file_unresolved(const std::string& path) {
  auto text = read_file(path);
  if (!text) {
    std::error_code ec;
    bool exists = std::filesystem::exists(path, ec);
    throw ConfigError(path + ": cannot read config file" +
                      (exists ? std::string() : std::string(": no such file")));
  }
  detail::Context ctx;
  std::error_code ec;
  std::string id = std::filesystem::weakly_canonical(path, ec).string();
  ctx.open_files.push_back(ec ? path : id);
  detail::Parser parser(*text, path, dir_of(path), ctx, {});
  return parser.parse_document_at({}, 0);
}

Value parse_value_unresolved(std::string_view text, const std::string& name) {
  detail::Context ctx;
  detail::Parser parser(text, name, "", ctx, {}, /*with_lines=*/false);
  return parser.parse_lone_value();
}

void set_path(Value& root, std::span<const std::string> path, Value value) {
  if (path.empty()) throw ConfigError("set_path: empty path");
  std::vector<detail::Frame> frames;
  frames.push_back(detail::Frame{&root, {}, false});
  detail::Tree::assign(frames, Path(path.begin(), path.end()), std::move(value), false);
}

void resolve(Value& root, const Env& env) {
  detail::Resolver resolver(root, env);
  resolver.run();
}

Value parse(std::string_view text, const std::string& name, const Env& env,
            const std::string& include_dir) {
  Value root = parse_unresolved(text, name, include_dir);
  resolve(root, env);
  return root;
}

Value parse_file(const std::string& path, const Env& env) {
  Value root = parse_file_unresolved(path);
  resolve(root, env);
  return root;
}

}  // namespace emqxd::config::hocon
