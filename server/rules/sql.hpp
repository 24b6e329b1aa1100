#pragma once
// EMQX's rule SQL: the statement a rule is written in, parsed into a tree.
//
//   SELECT <fields> FROM <source>[, <source>...] [WHERE <condition>]
//   FOREACH <fields> [DO <fields>] [INCASE <condition>] FROM <sources> [WHERE <condition>]
//
// The grammar is EMQX's (rulesql, emqx_rule_sqlparser.erl), read by a hand-written
// recursive-descent parser. What differs from a textbook SQL and follows EMQX on purpose:
//   - 'text' is a string; "text" is a quoted *name*, like `text`: `"topic"` reads the
//     column topic (EMQX's own tests rely on it). Sources in FROM may use either quote.
//   - Backslashes in strings are not escapes (EMQX offers unescape() for that); '' in a
//     single-quoted string is one quote.
//   - `null` and `undefined` are EMQX's undefined (EMQX reads both as unbound names).
//   - A field is `*`, or an expression with an optional alias (`AS a.b[1]`, or the bare
//     alias `expr name`); an alias may be a path, and later fields and WHERE see it.
//   - Paths: `payload.a.b`, `payload.'key with space'`, `x[1]` (1-based), `x[-1]` (from the
//     end), `x[0]` / `x[-0]` (in an alias: prepend / append), `x[i]` (index read from a
//     name), `x[1..3]` (a slice), and `[1..3]` (a list of integers).
//   - Operators anywhere an expression goes (EMQX allows AND/OR/NOT only in conditions;
//     this grammar is a superset): OR < AND < NOT < comparisons < + - < * / div mod < unary.
//   - Where this parser accepts more or refuses earlier than EMQX: keywords may follow
//     '.' in a path (`payload.from`); function names ignore case; a function that does not
//     exist is a parse error here, where EMQX fails the rule each time it runs.
//
// Errors name where (line:column, 1-based) and what. Nesting (parentheses, calls, lists,
// CASE, unary operators, chains of binary operators, path segments) is bounded by
// kMaxDepth, so any input ends in a tree or an error, and neither the parser nor the
// evaluation of a tree recurses deeper than that. No I/O; pure.
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace emqxd::rules {

inline constexpr int kMaxDepth = 128;
// Longer statements are refused: they bound what one rule may allocate while it runs.
inline constexpr std::size_t kMaxSqlBytes = 64 * 1024;

struct Builtin;

struct Position {
  int line = 1;
  int column = 1;
};

struct PathSegment {
  enum class Kind {
    Key,    // .name
    Index,  // [n], n != 0: 1-based, negative counts from the end
    Head,   // [0]: reads nothing; as an alias, prepends
    Tail,   // [-0]: reads nothing; as an alias, appends
    Ref,    // [name.path]: the index is the value at that path
  };
  Kind kind = Kind::Key;
  std::string key;
  std::int64_t index = 0;
  std::vector<PathSegment> ref;
};

using Path = std::vector<PathSegment>;

// Arithmetic (Add .. Mod), comparisons (= != < <= > >= =~: Eq .. TopicMatch), unary.
enum class Op { Add, Sub, Mul, Div, IntDiv, Mod, Eq, Ne, Lt, Le, Gt, Ge, TopicMatch, Neg, Plus };

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    Const,     // value (undefined when `undefined` is set)
    Lookup,    // path: a column, a field or a path into one
    List,      // children: the elements
    Range,     // [first..last]
    GetRange,  // path[first..last]
    Unary,     // op, children[0]
    Binary,    // op, children[0], children[1]
    And,       // children[0], children[1]
    Or,        // children[0], children[1]
    Not,       // children[0]
    In,        // children[0] IN (children[1..]); `negated` for NOT IN
    Case,      // case_on (may be null), whens, else_ (may be null)
    Call,      // builtin, name, children: the arguments
  };
  Kind kind = Kind::Const;
  Position pos;
  boost::json::value value;
  bool undefined = false;
  Path path;
  std::int64_t first = 0;
  std::int64_t last = 0;
  Op op = Op::Add;
  bool negated = false;
  std::vector<ExprPtr> children;
  ExprPtr case_on;
  std::vector<std::pair<ExprPtr, ExprPtr>> whens;
  ExprPtr else_;
  const Builtin* builtin = nullptr;
  std::string name;
};

struct Field {
  bool star = false;  // `*`: every column
  ExprPtr expr;
  // Where the value goes in the output: the alias, or the expression's own path, or a
  // name EMQX would make up (`_v_<kind>_<n>`, n the field's position; EMQX adds a time).
  Path key;
  bool aliased = false;
};

struct Statement {
  bool foreach = false;
  std::vector<Field> fields;     // SELECT's fields, or FOREACH's (the last one is iterated)
  std::vector<Field> do_fields;  // FOREACH ... DO
  ExprPtr incase;                // FOREACH ... INCASE; null when absent
  ExprPtr where;                 // null when absent
  std::vector<std::string> from;
  // FOREACH: the name each element is bound to (the last field's alias, else "item").
  std::string item_name = "item";
  // SELECT whose WHERE reads no name a field sets (only columns): WHERE may run first, and
  // a rule it stops builds no output. The same outputs; a SELECT that would have failed
  // where WHERE is false counts as no result instead of an exception.
  bool where_first = false;
};

struct SqlError {
  std::string message;  // "line:column: what", e.g. "1:8: expected FROM, found 'x'"
  Position pos;
};

// Parses one statement. Never throws on any input (only std::bad_alloc can escape).
std::variant<Statement, SqlError> parse(std::string_view sql);

}  // namespace emqxd::rules
