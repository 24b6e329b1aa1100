#pragma once
// A HOCON parser of our own: Debian ships no HOCON library for C++, and EMQX 5 users write
// their emqx.conf in HOCON (https://github.com/lightbend/config/blob/main/HOCON.md).
//
// What is supported, following the spec unless a line below says otherwise:
//
// - The root is an object, with or without braces. `key = value`, `key : value` and
//   `key { ... }` (no separator before an object). Fields are separated by commas or new
//   lines; one trailing comma is allowed, two commas in a row are an error.
// - Keys are path expressions: `a.b.c = 1` is `a { b { c = 1 } }`; quoted pieces keep their
//   dots (`"a.b".c`); `a..b` and leading or trailing dots are errors; unquoted words with
//   spaces between them form one key (`a b = 1` is `"a b" = 1`).
// - A key that repeats: objects merge recursively, anything else is replaced by the later
//   value. `a += v` appends v to the array a (or starts one).
// - Values: objects, arrays, quoted strings with JSON escapes (\" \\ \/ \b \f \n \r \t
//   \uXXXX), triple-quoted strings (raw, may span lines, extra closing quotes belong to the
//   string), numbers as JSON writes them, true, false, null, and unquoted strings. `on`,
//   `off`, `yes` and `no` are strings; Value::to_bool() converts them, as the spec's
//   automatic conversions do. Durations (`30s`) and sizes (`1MB`) are plain strings here.
// - Unquoted strings stop at whitespace, `//` and the spec's forbidden characters
//   $ " { } [ ] : = , + # ` ^ ? ! * & \ -- so `bind = 0.0.0.0:1883` is an error: write
//   `bind = "0.0.0.0:1883"`. One divergence, shared with EMQX's own parser: `@` is allowed,
//   so `node.name = emqx@127.0.0.1` works unquoted.
// - Value concatenation on one line: `a = foo bar` is "foo bar" (inner whitespace kept,
//   outer trimmed), numbers keep their written form (`1.50 x`), arrays concatenate
//   (`[1] [2]`), objects merge (`{a=1} {b=2}`).
// - Comments `#` and `//` to the end of the line.
// - Substitutions `${a.b}` and `${?a.b}` outside quoted strings, resolved after the whole
//   document (and anything layered on it with set_path) is known: first against the config,
//   then against the environment map passed in (the joined path is the variable name).
//   Self-references look at the earlier value (`path = ${path} [/usr/bin]`, `a = ${?a}x`).
//   An undefined `${?x}` removes its field or array element, or is empty in a
//   concatenation. Cycles and undefined `${x}` are errors.
// - `include "f"`, `include file("f")`, `include required("f")`, `include
//   required(file("f"))`: relative names are looked up next to the including file; a name
//   without an extension falls back to "f.conf"; a missing file is ignored unless
//   required. Substitutions in an included file are tried relative to where it is
//   included, then from the root. url() and classpath() are rejected.
//
// Not supported: numerically-indexed objects as arrays, .properties/.json includes by
// extension guessing, Unicode whitespace other than a leading byte-order mark.
//
// Every value remembers the file and line it came from; syntax errors throw ConfigError
// "FILE:LINE: message". Nesting is limited (100 levels, 32 nested includes) so a hostile
// or broken file fails with an error rather than exhausting the stack.
//
// Cost: one pass over the text building the tree, one pass to resolve substitutions;
// objects are vectors searched linearly, which is right for config-sized objects.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"

namespace emqxd::config::hocon {

using Env = std::map<std::string, std::string>;
using Path = std::vector<std::string>;

struct Origin {
  std::string file;  // the file as opened, a name given to parse(), or an env variable
  int line = 0;      // 1-based; 0 when there is no line (an environment variable)

  // "file:line", or "file" when line is 0.
  std::string to_string() const;
};

namespace detail {
class Parser;
class Resolver;
struct Tree;
}  // namespace detail

struct Field;

class Value {
 public:
  enum class Kind : std::uint8_t {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
    // Seen only in unresolved trees (parse_unresolved, before resolve()):
    Substitution,
    Concatenation,
    DelayedMerge,
    Space,
    Undefined,
  };

  Value() = default;  // null
  static Value make_null(Origin origin);
  static Value make_bool(bool b, Origin origin);
  static Value make_number(std::string text, Origin origin);  // text must be a JSON number
  static Value make_string(std::string text, Origin origin);
  static Value make_array(std::vector<Value> elements, Origin origin);
  static Value make_object(Origin origin);

  Kind kind() const { return kind_; }
  const Origin& origin() const { return origin_; }
  bool is_null() const { return kind_ == Kind::Null; }
  bool is_bool() const { return kind_ == Kind::Bool; }
  bool is_number() const { return kind_ == Kind::Number; }
  bool is_string() const { return kind_ == Kind::String; }
  bool is_array() const { return kind_ == Kind::Array; }
  bool is_object() const { return kind_ == Kind::Object; }

  // Scalars as text: a string's content, a number as written, "true", "false", "null".
  const std::string& text() const { return text_; }

  // The spec's automatic conversions. to_bool: a boolean, or a string true/false/yes/no/
  // on/off. to_int: an integral number, or a string that is one. to_double: a number, or a
  // string that is one. nullopt when the value does not convert.
  std::optional<bool> to_bool() const;
  std::optional<std::int64_t> to_int() const;
  std::optional<double> to_double() const;

  // Array elements; empty for anything else.
  const std::vector<Value>& elements() const { return elements_; }
  // Object fields in the order their keys first appeared; empty for anything else.
  const std::vector<Field>& fields() const { return fields_; }
  // The field `key` of an object, or nullptr.
  const Value* find(std::string_view key) const;
  // Walks `path` through objects, or nullptr.
  const Value* find(std::span<const std::string> path) const;
  // Walks a dotted path ("a.b.c", no quoting), or nullptr.
  const Value* at(std::string_view dotted) const;

  // Compact JSON, for tests and debugging; unresolved nodes show as <...>.
  std::string to_json() const;

 private:
  friend class detail::Parser;
  friend class detail::Resolver;
  friend struct detail::Tree;

  Kind kind_ = Kind::Null;
  bool bool_ = false;
  bool optional_ = false;  // Substitution: ${?x}
  bool env_only_ = false;  // Substitution: a self-reference with no earlier value
  Origin origin_;
  std::string text_ = "null";    // scalars only, see text()
  std::vector<Value> elements_;  // Array; parts of a Concatenation or DelayedMerge
  std::vector<Field> fields_;    // Object
  Path path_;                    // Substitution: the path looked up
  Path alt_path_;                // Substitution in an included file: the path as written
};

struct Field {
  std::string key;
  Value value;
};

// Parses a whole document and resolves its substitutions against itself, then `env`.
// `name` appears in origins and errors; relative includes are looked up in `include_dir`
// (the current directory when empty). Throws ConfigError "NAME:LINE: message".
Value parse(std::string_view text, const std::string& name, const Env& env,
            const std::string& include_dir = "");
// The same for a file; relative includes are looked up next to it.
Value parse_file(const std::string& path, const Env& env);

// The steps of parse(), for layering values on a document before resolving it (the
// config loader puts EMQX_* overrides on top of the file this way).
Value parse_unresolved(std::string_view text, const std::string& name,
                       const std::string& include_dir = "");
Value parse_file_unresolved(const std::string& path);
// A text that must be exactly one value (no key), as in `key = TEXT`. Origins carry
// `name` and no line. Throws ConfigError if the text is not one HOCON value.
Value parse_value_unresolved(std::string_view text, const std::string& name);
// Sets `path` in the object `root` as if `a.b.c = value` were the document's last line:
// objects merge, self-references see the earlier value.
void set_path(Value& root, std::span<const std::string> path, Value value);
// Resolves every substitution in `root`, first against `root`, then `env`.
void resolve(Value& root, const Env& env);

// "a.b.c", quoting keys that need it ("listeners.tcp.\"a.b\"").
std::string path_to_string(std::span<const std::string> path);

}  // namespace emqxd::config::hocon
