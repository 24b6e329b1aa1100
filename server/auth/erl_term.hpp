#pragma once
// Erlang terms as EMQX's acl.conf writes them (file:consult syntax): a sequence of terms,
// each ended by a '.', made of atoms (`allow`, `'and'`), strings ("a/#"), binaries
// (<<"a/#">>), integers, tuples ({...}) and lists ([...]). `%` starts a comment that runs
// to the end of the line. Variables, floats, maps, funs and improper lists are refused:
// acl.conf never needs them.
//
// The parser is for files an operator writes, read at start-up or on a reload, never on
// a client's path: errors are exceptions that say where (file:line:column) and what.
// Nesting is bounded (kMaxDepth) so any input ends in a term or an error.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "auth/file_error.hpp"

namespace emqxd::auth {

struct Term {
  enum class Kind { Atom, String, Integer, Tuple, List };
  Kind kind = Kind::Atom;
  std::string text;          // an atom's name, or a string's (or binary's) bytes
  std::int64_t integer = 0;  // Kind::Integer
  std::vector<Term> items;   // a tuple's elements, a list's elements
  int line = 0;              // where the term starts, 1-based
  int column = 0;

  bool is_atom(std::string_view name) const { return kind == Kind::Atom && text == name; }
  bool is_tuple(std::size_t arity) const { return kind == Kind::Tuple && items.size() == arity; }
  // A string, a binary or the empty list (which is how Erlang writes "").
  bool is_text() const { return kind == Kind::String || (kind == Kind::List && items.empty()); }
  // For messages: `atom`, "string", {tuple of 3}, [list of 2], 12.
  std::string describe() const;
};

inline constexpr int kMaxTermDepth = 32;

// Every top-level term of `text`, in order. `origin` names the text in errors (a path).
std::vector<Term> parse_terms(std::string_view text, std::string_view origin);

}  // namespace emqxd::auth
