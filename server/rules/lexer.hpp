#pragma once
// The tokens of EMQX's rule SQL (rulesql's sql_lex.xrl): names, 'strings', "quoted names",
// numbers, `[a..b]` ranges, operators and punctuation; `--` starts a comment that runs to
// the end of the line. Keywords are names; the parser tells them apart, ignoring case.
// Internal to server/rules.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rules/sql.hpp"

namespace emqxd::rules::detail {

struct Token {
  enum class Kind {
    Name,        // bare word: a name or a keyword
    QuotedName,  // "..."
    String,      // '...'
    Int,
    Float,
    Range,  // [a..b], bounds in first/last
    Punct,  // ( ) [ ] , . * + - /
    Cmp,    // = != <> < > <= >= =~
    End,
  };
  Kind kind = Kind::End;
  std::string text;  // names and strings unquoted; punctuation and operators as written
  std::int64_t integer = 0;
  double number = 0;
  std::int64_t first = 0;
  std::int64_t last = 0;
  Position pos;
};

// The tokens of `sql`, ending with one Kind::End; false and `error` set on a character no
// token starts with, an unterminated string or a number out of range.
bool tokenize(std::string_view sql, std::vector<Token>& out, SqlError& error);

// For messages: `'x'`, `"x"`, `x`, `end of input`.
std::string describe(const Token& t);

bool iequals(std::string_view a, std::string_view b);  // ASCII, ignoring case
// A name that is a keyword (SELECT, FROM, ..., div, mod): not a column without quotes.
bool is_keyword(const Token& t);

}  // namespace emqxd::rules::detail
