#pragma once
// The recursive-descent parser of rule SQL (the grammar and EMQX's choices: sql.hpp): the
// statement, its fields and paths in parser.cpp, expressions in parser_expr.cpp. Every
// recursion goes through a Depth or a Links, which refuse nesting past kMaxDepth.
// Internal to server/rules.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/lexer.hpp"
#include "rules/sql.hpp"

namespace emqxd::rules::detail {

class Parser {
 public:
  Parser(std::vector<Token> tokens, SqlError& error) : t_(std::move(tokens)), error_(error) {}

  bool statement(Statement& st);

 private:
  // Counts one level of nesting for as long as it lives.
  class Depth {
   public:
    explicit Depth(Parser& p) : p_(p) { ++p_.depth_; }
    ~Depth() { --p_.depth_; }
    bool ok() const { return p_.depth_ <= kMaxDepth; }
    Depth(const Depth&) = delete;
    Depth& operator=(const Depth&) = delete;

   private:
    Parser& p_;
  };

  // A chain of left-associative operators nests as deep as it is long: each link counts
  // as a level for the rest of the chain.
  class Links {
   public:
    explicit Links(Parser& p) : p_(p) {}
    ~Links() { p_.depth_ -= n_; }
    bool add();
    Links(const Links&) = delete;
    Links& operator=(const Links&) = delete;

   private:
    Parser& p_;
    int n_ = 0;
  };

  const Token& peek(std::size_t ahead = 0) const;
  const Token& take();
  bool punct(std::string_view p);
  bool is_kw(const Token& t, std::string_view k) const;
  bool keyword(std::string_view k);
  bool fail(Position p, std::string what);
  std::nullptr_t fail_null(Position p, std::string what);
  bool expect_punct(std::string_view p);
  bool expect_keyword(std::string_view k);
  bool too_deep(const Depth& d);
  ExprPtr node(Expr::Kind kind, Position pos);
  bool fields(std::vector<Field>& out);
  // The key EMQX gives a field without an alias (emqx_rule_runtime:alias/2).
  static Path implicit_key(const Expr& e, std::size_t position);
  bool alias(Path& out);
  bool sources(std::vector<std::string>& out);
  // A name, then any of .segment, [index] and, last, [a..b]. The caller checked the name.
  bool path(Path& out, bool* range = nullptr, Token* range_token = nullptr);
  bool index(PathSegment& seg);
  ExprPtr expr();
  ExprPtr or_expr();
  ExprPtr and_expr();
  ExprPtr not_expr();
  static std::optional<Op> comparison_op(std::string_view s);
  ExprPtr comparison();
  ExprPtr binary(Op op, Position p, ExprPtr l, ExprPtr r);
  ExprPtr additive();
  ExprPtr multiplicative();
  ExprPtr unary();
  ExprPtr primary();
  ExprPtr literal_name(const Token& t);
  ExprPtr path_expr();
  ExprPtr list();
  ExprPtr call();
  ExprPtr case_expr();

  std::vector<Token> t_;
  std::size_t at_ = 0;
  int depth_ = 0;
  SqlError& error_;
};

}  // namespace emqxd::rules::detail
