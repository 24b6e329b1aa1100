#include "auth/erl_term.hpp"

#include <fmt/format.h>

#include <cctype>
#include <charconv>

namespace emqxd::auth {

std::string Term::describe() const {
  switch (kind) {
    case Kind::Atom:
      return fmt::format("`{}`", text);
    case Kind::String:
      return fmt::format("\"{}\"", text.size() > 40 ? text.substr(0, 40) + "..." : text);
    case Kind::Integer:
      return std::to_string(integer);
    case Kind::Tuple:
      return fmt::format("a tuple of {}", items.size());
    case Kind::List:
      return fmt::format("a list of {}", items.size());
  }
  return "?";
}

namespace {

class Parser {
 public:
  Parser(std::string_view text, std::string_view origin) : s_(text), origin_(origin) {}

  std::vector<Term> all() {
    std::vector<Term> out;
    skip_blank();
    while (i_ < s_.size()) {
      out.push_back(term(0));
      skip_blank();
      if (!eat('.')) fail("expected '.' after a term");
      // "a.b" is not two terms: a '.' ends a term only before blank, a comment or the end.
      if (i_ < s_.size() && !std::isspace(static_cast<unsigned char>(s_[i_])) && s_[i_] != '%')
        fail("expected a space or a new line after '.'");
      skip_blank();
    }
    return out;
  }

 private:
  [[noreturn]] void fail(std::string_view what) const { fail_at(line_, col(), what); }
  [[noreturn]] void fail_at(int line, int column, std::string_view what) const {
    throw AuthFileError(fmt::format("{}:{}:{}: {}", origin_, line, column, what));
  }
  int col() const { return static_cast<int>(i_ - line_start_) + 1; }

  void advance() {
    if (s_[i_] == '\n') {
      ++line_;
      line_start_ = i_ + 1;
    }
    ++i_;
  }

  void skip_blank() {
    while (i_ < s_.size()) {
      char c = s_[i_];
      if (c == '%') {
        while (i_ < s_.size() && s_[i_] != '\n')
          ++i_;
      } else if (std::isspace(static_cast<unsigned char>(c))) {
        advance();
      } else {
        return;
      }
    }
  }

  bool eat(char c) {
    if (i_ < s_.size() && s_[i_] == c) {
      advance();
      return true;
    }
    return false;
  }

  Term start(Term::Kind kind) const {
    Term t;
    t.kind = kind;
    t.line = line_;
    t.column = col();
    return t;
  }

  Term term(int depth) {
    if (depth >= kMaxTermDepth) fail("terms nested too deeply");
    skip_blank();
    if (i_ >= s_.size()) fail("unexpected end of file, expected a term");
    char c = s_[i_];
    if (c == '{') return sequence(depth, Term::Kind::Tuple, '}');
    if (c == '[') return sequence(depth, Term::Kind::List, ']');
    if (c == '"') return string_term();
    if (c == '\'') return quoted_atom();
    if (c == '<' && s_.substr(i_, 2) == "<<") return binary();
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) return integer();
    if (std::islower(static_cast<unsigned char>(c))) return atom();
    if (std::isupper(static_cast<unsigned char>(c)) || c == '_')
      fail(
          "variables are not allowed in acl.conf (quote it: 'Name' is an atom, \"Name\" a string)");
    fail(fmt::format("unexpected '{}'", c));
  }

  Term sequence(int depth, Term::Kind kind, char close) {
    Term t = start(kind);
    const char* what = kind == Term::Kind::Tuple ? "a tuple" : "a list";
    advance();  // '{' or '['
    skip_blank();
    if (eat(close)) return t;
    for (;;) {
      t.items.push_back(term(depth + 1));
      skip_blank();
      if (eat(',')) continue;
      if (eat(close)) return t;
      if (kind == Term::Kind::List && i_ < s_.size() && s_[i_] == '|')
        fail("improper lists ([H | T]) are not allowed");
      fail(fmt::format("expected ',' or '{}' in {}", close, what));
    }
  }

  Term atom() {
    Term t = start(Term::Kind::Atom);
    while (i_ < s_.size() &&
           (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_' || s_[i_] == '@'))
      t.text.push_back(s_[i_++]);
    return t;
  }

  Term quoted_atom() {
    Term t = start(Term::Kind::Atom);
    t.text = quoted('\'');
    return t;
  }

  Term string_term() {
    Term t = start(Term::Kind::String);
    t.text = quoted('"');
    // Adjacent strings are one: "a" "b" is "ab", as in Erlang.
    for (;;) {
      std::size_t save = i_;
      int save_line = line_;
      std::size_t save_start = line_start_;
      skip_blank();
      if (i_ < s_.size() && s_[i_] == '"') {
        t.text += quoted('"');
      } else {
        i_ = save;
        line_ = save_line;
        line_start_ = save_start;
        return t;
      }
    }
  }

  // <<"text">> (a binary written as a string; nothing else binaries can hold is needed).
  Term binary() {
    Term t = start(Term::Kind::String);
    advance();
    advance();
    skip_blank();
    if (i_ < s_.size() && s_[i_] == '"') t.text = quoted('"');
    skip_blank();
    if (s_.substr(i_, 2) != ">>") fail("expected \">>\": only <<\"text\">> binaries are allowed");
    advance();
    advance();
    return t;
  }

  Term integer() {
    Term t = start(Term::Kind::Integer);
    std::size_t begin = i_;
    if (s_[i_] == '-') ++i_;
    if (i_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[i_])))
      fail("expected a digit after '-'");
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_])))
      ++i_;
    if (i_ < s_.size() && (s_[i_] == '.' && i_ + 1 < s_.size() &&
                           std::isdigit(static_cast<unsigned char>(s_[i_ + 1]))))
      fail("floats are not allowed in acl.conf");
    if (i_ < s_.size() && s_[i_] == '#') fail("based integers (16#ff) are not allowed in acl.conf");
    auto [p, ec] = std::from_chars(s_.data() + begin, s_.data() + i_, t.integer);
    if (ec != std::errc{}) fail_at(t.line, t.column, "integer out of range");
    (void)p;
    return t;
  }

  // The text between `quote`s, escapes resolved as Erlang does.
  std::string quoted(char quote) {
    const int line = line_;
    const int column = col();
    advance();  // the opening quote
    std::string out;
    for (;;) {
      if (i_ >= s_.size())
        fail_at(line, column, quote == '"' ? "unterminated string" : "unterminated quoted atom");
      char c = s_[i_];
      if (c == quote) {
        advance();
        return out;
      }
      if (c != '\\') {
        out.push_back(c);
        advance();
        continue;
      }
      advance();
      if (i_ >= s_.size()) fail_at(line, column, "unterminated string");
      char e = s_[i_];
      advance();
      switch (e) {
        case 'n':
          out.push_back('\n');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 's':
          out.push_back(' ');
          break;
        case 'e':
          out.push_back('\x1b');
          break;
        case 'd':
          out.push_back('\x7f');
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'v':
          out.push_back('\v');
          break;
        case 'x':
          out += hex_escape();
          break;
        default:
          if (e >= '0' && e <= '7') {
            int v = e - '0';
            for (int k = 0; k < 2 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; ++k) {
              v = v * 8 + (s_[i_] - '0');
              advance();
            }
            out.push_back(static_cast<char>(v & 0xFF));
          } else {
            out.push_back(e);  // \\ \" \' and any other character stand for themselves
          }
      }
    }
  }

  // After "\x": two hex digits, or {hex...} for a code point, written out as UTF-8.
  std::string hex_escape() {
    auto hexval = [](char h) -> int {
      if (h >= '0' && h <= '9') return h - '0';
      if (h >= 'a' && h <= 'f') return h - 'a' + 10;
      if (h >= 'A' && h <= 'F') return h - 'A' + 10;
      return -1;
    };
    std::uint32_t cp = 0;
    if (eat('{')) {
      int n = 0;
      while (i_ < s_.size() && hexval(s_[i_]) >= 0) {
        cp = cp * 16 + static_cast<std::uint32_t>(hexval(s_[i_]));
        advance();
        if (++n > 6) fail("\\x{...} escape too long");
      }
      if (n == 0 || !eat('}')) fail("bad \\x{...} escape");
      if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) fail("\\x{...} is not a code point");
    } else {
      for (int k = 0; k < 2; ++k) {
        if (i_ >= s_.size() || hexval(s_[i_]) < 0) fail("bad \\x escape: two hex digits expected");
        cp = cp * 16 + static_cast<std::uint32_t>(hexval(s_[i_]));
        advance();
      }
      return std::string(1, static_cast<char>(cp));
    }
    std::string u;
    if (cp < 0x80) {
      u.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      u.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      u.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      u.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      u.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      u.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      u.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      u.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      u.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      u.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    return u;
  }

  std::string_view s_;
  std::string_view origin_;
  std::size_t i_ = 0;
  int line_ = 1;
  std::size_t line_start_ = 0;
};

}  // namespace

std::vector<Term> parse_terms(std::string_view text, std::string_view origin) {
  return Parser(text, origin).all();
}

}  // namespace emqxd::auth
