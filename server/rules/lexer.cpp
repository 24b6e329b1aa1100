#include "rules/lexer.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cstdlib>

namespace emqxd::rules::detail {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
// rulesql's names also take '$', '@' and '~' after the first character.
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c) || c == '$' || c == '@' || c == '~';
}

class Lexer {
 public:
  Lexer(std::string_view sql, std::vector<Token>& out, SqlError& error)
      : s_(sql), out_(out), error_(error) {}

  bool run() {
    while (true) {
      skip_space_and_comments();
      if (at_ >= s_.size()) break;
      if (!next()) return false;
    }
    Token end;
    end.kind = Token::Kind::End;
    end.pos = pos();
    out_.push_back(std::move(end));
    return true;
  }

 private:
  Position pos() const { return {line_, static_cast<int>(at_ - line_start_) + 1}; }

  void advance(std::size_t n) {
    for (std::size_t i = 0; i < n && at_ < s_.size(); ++i) {
      if (s_[at_] == '\n') {
        ++line_;
        line_start_ = at_ + 1;
      }
      ++at_;
    }
  }

  void skip_space_and_comments() {
    while (at_ < s_.size()) {
      char c = s_[at_];
      if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v') {
        advance(1);
      } else if (c == '-' && at_ + 1 < s_.size() && s_[at_ + 1] == '-') {
        while (at_ < s_.size() && s_[at_] != '\n')
          advance(1);
      } else {
        break;
      }
    }
  }

  bool fail(Position p, std::string what) {
    error_.pos = p;
    error_.message = fmt::format("{}:{}: {}", p.line, p.column, what);
    return false;
  }

  Token& push(Token::Kind kind, Position p) {
    Token t;
    t.kind = kind;
    t.pos = p;
    out_.push_back(std::move(t));
    return out_.back();
  }

  bool next() {
    const Position p = pos();
    const char c = s_[at_];
    if (c == '\'' || c == '"') return quoted(c, p);
    if (is_name_start(c)) {
      std::size_t end = at_ + 1;
      while (end < s_.size() && is_name_char(s_[end]))
        ++end;
      push(Token::Kind::Name, p).text = std::string(s_.substr(at_, end - at_));
      advance(end - at_);
      return true;
    }
    // After '.', digits are a path segment (`x.0`), not the fraction of a number.
    const bool after_dot =
        !out_.empty() && out_.back().kind == Token::Kind::Punct && out_.back().text == ".";
    if (is_digit(c) || (c == '.' && !after_dot && at_ + 1 < s_.size() && is_digit(s_[at_ + 1]) &&
                        !follows_operand())) {
      return number(p, after_dot);
    }
    if (c == '[' && range(p)) return true;
    for (std::string_view op : {"<=", ">=", "<>", "!=", "=~"}) {
      if (s_.substr(at_, 2) == op) {
        push(Token::Kind::Cmp, p).text = std::string(op);
        advance(2);
        return true;
      }
    }
    if (c == '=' || c == '<' || c == '>') {
      push(Token::Kind::Cmp, p).text = std::string(1, c);
      advance(1);
      return true;
    }
    if (std::string_view("()[],.*+-/").find(c) != std::string_view::npos) {
      push(Token::Kind::Punct, p).text = std::string(1, c);
      advance(1);
      return true;
    }
    return fail(p, fmt::format("unexpected character '{}'", printable(c)));
  }

  // `x.5` is the path segment 5 after a name, not the number .5.
  bool follows_operand() const {
    if (out_.empty()) return false;
    const Token& t = out_.back();
    return (t.kind == Token::Kind::Name && !is_keyword(t)) || t.kind == Token::Kind::QuotedName ||
           (t.kind == Token::Kind::Punct && (t.text == "]" || t.text == ")"));
  }

  static std::string printable(char c) {
    if (static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f) {
      return std::string(1, c);
    }
    return fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
  }

  bool quoted(char q, Position p) {
    std::string text;
    std::size_t i = at_ + 1;
    while (true) {
      if (i >= s_.size()) {
        return fail(p, q == '\'' ? "unterminated string" : "unterminated quoted name");
      }
      if (s_[i] == q) {
        if (i + 1 < s_.size() && s_[i + 1] == q) {
          text.push_back(q);
          i += 2;
          continue;
        }
        break;
      }
      text.push_back(s_[i++]);
    }
    push(q == '\'' ? Token::Kind::String : Token::Kind::QuotedName, p).text = std::move(text);
    advance(i + 1 - at_);
    return true;
  }

  bool number(Position p, bool after_dot) {
    std::size_t end = at_;
    while (end < s_.size() && is_digit(s_[end]))
      ++end;
    bool is_float = false;
    if (!after_dot && end < s_.size() && s_[end] == '.' &&
        !(end + 1 < s_.size() && s_[end + 1] == '.')) {
      is_float = true;
      ++end;
      while (end < s_.size() && is_digit(s_[end]))
        ++end;
    }
    if (!after_dot && end < s_.size() && (s_[end] == 'e' || s_[end] == 'E')) {
      std::size_t e = end + 1;
      if (e < s_.size() && (s_[e] == '+' || s_[e] == '-')) ++e;
      if (e < s_.size() && is_digit(s_[e])) {
        is_float = true;
        end = e;
        while (end < s_.size() && is_digit(s_[end]))
          ++end;
      }
    }
    const std::string text(s_.substr(at_, end - at_));
    Token& t = push(is_float ? Token::Kind::Float : Token::Kind::Int, p);
    t.text = text;
    if (is_float) {
      t.number = std::strtod(text.c_str(), nullptr);
    } else {
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), t.integer);
      if (ec != std::errc{}) return fail(p, fmt::format("integer {} out of range", text));
    }
    advance(end - at_);
    return true;
  }

  // rulesql reads `[-1..3]` (no spaces) as one token.
  bool range(Position p) {
    std::size_t i = at_ + 1;
    std::int64_t bounds[2] = {0, 0};
    for (int b = 0; b < 2; ++b) {
      std::size_t start = i;
      if (i < s_.size() && s_[i] == '-') ++i;
      std::size_t digits = i;
      while (i < s_.size() && is_digit(s_[i]))
        ++i;
      if (i == digits) return false;
      auto [ptr, ec] = std::from_chars(s_.data() + start, s_.data() + i, bounds[b]);
      if (ec != std::errc{}) return false;
      if (b == 0) {
        if (s_.substr(i, 2) != "..") return false;
        i += 2;
      }
    }
    if (i >= s_.size() || s_[i] != ']') return false;
    Token& t = push(Token::Kind::Range, p);
    t.text = std::string(s_.substr(at_, i + 1 - at_));
    t.first = bounds[0];
    t.last = bounds[1];
    advance(i + 1 - at_);
    return true;
  }

  std::string_view s_;
  std::vector<Token>& out_;
  SqlError& error_;
  std::size_t at_ = 0;
  std::size_t line_start_ = 0;
  int line_ = 1;
};

}  // namespace

bool tokenize(std::string_view sql, std::vector<Token>& out, SqlError& error) {
  return Lexer(sql, out, error).run();
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x >= 'A' && x <= 'Z' ? x + 32 : x) == (y >= 'A' && y <= 'Z' ? y + 32 : y);
         });
}

bool is_keyword(const Token& t) {
  static constexpr std::array<std::string_view, 18> kKeywords = {
      "select", "from", "where", "foreach", "do", "incase", "as", "case", "when",
      "then",   "else", "end",   "and",     "or", "not",    "in", "div",  "mod"};
  return t.kind == Token::Kind::Name &&
         std::any_of(kKeywords.begin(), kKeywords.end(),
                     [&](std::string_view k) { return iequals(t.text, k); });
}

std::string describe(const Token& t) {
  switch (t.kind) {
    case Token::Kind::End:
      return "end of input";
    case Token::Kind::String:
      return fmt::format("'{}'", t.text);
    case Token::Kind::QuotedName:
      return fmt::format("\"{}\"", t.text);
    default:
      return fmt::format("'{}'", t.text);
  }
}

}  // namespace emqxd::rules::detail
