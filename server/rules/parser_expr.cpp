// Expressions, by precedence from OR down to the primaries (parser.hpp).
#include <fmt/format.h>

#include "rules/functions.hpp"
#include "rules/parser.hpp"

namespace emqxd::rules::detail {

using TK = Token::Kind;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  return out;
}

}  // namespace

bool Parser::Links::add() {
  ++n_;
  ++p_.depth_;
  if (p_.depth_ <= kMaxDepth) return true;
  return p_.fail(p_.peek().pos, fmt::format("nested deeper than {} levels", kMaxDepth));
}

ExprPtr Parser::expr() {
  Depth d(*this);
  if (too_deep(d)) return nullptr;
  return or_expr();
}

ExprPtr Parser::or_expr() {
  ExprPtr l = and_expr();
  Links links(*this);
  while (l && is_kw(peek(), "or")) {
    if (!links.add()) return nullptr;
    Position p = take().pos;
    ExprPtr r = and_expr();
    if (!r) return nullptr;
    ExprPtr e = node(Expr::Kind::Or, p);
    e->children.push_back(std::move(l));
    e->children.push_back(std::move(r));
    l = std::move(e);
  }
  return l;
}

ExprPtr Parser::and_expr() {
  ExprPtr l = not_expr();
  Links links(*this);
  while (l && is_kw(peek(), "and")) {
    if (!links.add()) return nullptr;
    Position p = take().pos;
    ExprPtr r = not_expr();
    if (!r) return nullptr;
    ExprPtr e = node(Expr::Kind::And, p);
    e->children.push_back(std::move(l));
    e->children.push_back(std::move(r));
    l = std::move(e);
  }
  return l;
}

ExprPtr Parser::not_expr() {
  if (!is_kw(peek(), "not")) return comparison();
  Depth d(*this);
  if (too_deep(d)) return nullptr;
  ExprPtr e = node(Expr::Kind::Not, take().pos);
  ExprPtr operand = not_expr();
  if (!operand) return nullptr;
  e->children.push_back(std::move(operand));
  return e;
}

std::optional<Op> Parser::comparison_op(std::string_view s) {
  if (s == "=") return Op::Eq;
  if (s == "!=" || s == "<>") return Op::Ne;
  if (s == "<") return Op::Lt;
  if (s == "<=") return Op::Le;
  if (s == ">") return Op::Gt;
  if (s == ">=") return Op::Ge;
  if (s == "=~") return Op::TopicMatch;
  return std::nullopt;
}

ExprPtr Parser::comparison() {
  ExprPtr l = additive();
  if (!l) return nullptr;
  if (peek().kind == TK::Cmp) {
    const Token& t = take();
    ExprPtr r = additive();
    if (!r) return nullptr;
    ExprPtr e = node(Expr::Kind::Binary, t.pos);
    e->op = *comparison_op(t.text);
    e->children.push_back(std::move(l));
    e->children.push_back(std::move(r));
    return e;
  }
  bool negated = false;
  if (is_kw(peek(), "not") && is_kw(peek(1), "in")) {
    take();
    negated = true;
  }
  if (!is_kw(peek(), "in")) return l;
  ExprPtr e = node(Expr::Kind::In, take().pos);
  e->negated = negated;
  e->children.push_back(std::move(l));
  if (!expect_punct("(")) return nullptr;
  do {
    ExprPtr item = expr();
    if (!item) return nullptr;
    e->children.push_back(std::move(item));
  } while (punct(","));
  if (!expect_punct(")")) return nullptr;
  return e;
}

ExprPtr Parser::binary(Op op, Position p, ExprPtr l, ExprPtr r) {
  ExprPtr e = node(Expr::Kind::Binary, p);
  e->op = op;
  e->children.push_back(std::move(l));
  e->children.push_back(std::move(r));
  return e;
}

ExprPtr Parser::additive() {
  ExprPtr l = multiplicative();
  Links links(*this);
  while (l && peek().kind == TK::Punct && (peek().text == "+" || peek().text == "-")) {
    if (!links.add()) return nullptr;
    const Token& t = take();
    Op op = t.text == "+" ? Op::Add : Op::Sub;
    ExprPtr r = multiplicative();
    if (!r) return nullptr;
    l = binary(op, t.pos, std::move(l), std::move(r));
  }
  return l;
}

ExprPtr Parser::multiplicative() {
  ExprPtr l = unary();
  Links links(*this);
  while (l) {
    const Token& t = peek();
    Op op;
    if (t.kind == TK::Punct && t.text == "*") {
      op = Op::Mul;
    } else if (t.kind == TK::Punct && t.text == "/") {
      op = Op::Div;
    } else if (is_kw(t, "div")) {
      op = Op::IntDiv;
    } else if (is_kw(t, "mod")) {
      op = Op::Mod;
    } else {
      break;
    }
    if (!links.add()) return nullptr;
    Position p = take().pos;
    ExprPtr r = unary();
    if (!r) return nullptr;
    l = binary(op, p, std::move(l), std::move(r));
  }
  return l;
}

ExprPtr Parser::unary() {
  if (peek().kind == TK::Punct && (peek().text == "-" || peek().text == "+")) {
    Depth d(*this);
    if (too_deep(d)) return nullptr;
    const Token& t = take();
    ExprPtr e = node(Expr::Kind::Unary, t.pos);
    e->op = t.text == "-" ? Op::Neg : Op::Plus;
    ExprPtr operand = unary();
    if (!operand) return nullptr;
    e->children.push_back(std::move(operand));
    return e;
  }
  return primary();
}

ExprPtr Parser::primary() {
  const Token& t = peek();
  switch (t.kind) {
    case TK::Int: {
      ExprPtr e = node(Expr::Kind::Const, take().pos);
      e->value = t.integer;
      return e;
    }
    case TK::Float: {
      ExprPtr e = node(Expr::Kind::Const, take().pos);
      e->value = t.number;
      return e;
    }
    case TK::String: {
      ExprPtr e = node(Expr::Kind::Const, take().pos);
      e->value = boost::json::string(t.text);
      return e;
    }
    case TK::Range: {
      ExprPtr e = node(Expr::Kind::Range, take().pos);
      e->first = t.first;
      e->last = t.last;
      return e;
    }
    case TK::Punct:
      if (t.text == "(") {
        take();
        ExprPtr e = expr();
        if (!e || !expect_punct(")")) return nullptr;
        return e;
      }
      if (t.text == "[") return list();
      break;
    case TK::Name:
      if (is_kw(t, "case")) return case_expr();
      if (is_keyword(t)) break;
      if (ExprPtr lit = literal_name(t)) return lit;
      if (peek(1).kind == TK::Punct && peek(1).text == "(") return call();
      return path_expr();
    case TK::QuotedName:
      return path_expr();
    default:
      break;
  }
  return fail_null(t.pos, fmt::format("expected an expression, found {}", detail::describe(t)));
}

ExprPtr Parser::literal_name(const Token& t) {
  const std::string name = lower(t.text);
  if (name != "true" && name != "false" && name != "null" && name != "undefined") {
    return nullptr;
  }
  // A literal only when not the start of a path or a call (`true.x` reads a column named
  // true, null() is a function).
  if (peek(1).kind == TK::Punct &&
      (peek(1).text == "." || peek(1).text == "[" || peek(1).text == "(")) {
    return nullptr;
  }
  ExprPtr e = node(Expr::Kind::Const, take().pos);
  if (name == "true" || name == "false") {
    e->value = name == "true";
  } else {
    e->undefined = true;
  }
  return e;
}

ExprPtr Parser::path_expr() {
  const Position p = peek().pos;
  bool range = false;
  Token range_token;
  Path segs;
  if (!path(segs, &range, &range_token)) return nullptr;
  ExprPtr e = node(range ? Expr::Kind::GetRange : Expr::Kind::Lookup, p);
  e->path = std::move(segs);
  e->first = range_token.first;
  e->last = range_token.last;
  return e;
}

ExprPtr Parser::list() {
  ExprPtr e = node(Expr::Kind::List, take().pos);
  if (punct("]")) return e;
  do {
    ExprPtr item = expr();
    if (!item) return nullptr;
    e->children.push_back(std::move(item));
  } while (punct(","));
  if (!expect_punct("]")) return nullptr;
  return e;
}

ExprPtr Parser::call() {
  const Token& name = take();
  ExprPtr e = node(Expr::Kind::Call, name.pos);
  e->name = lower(name.text);
  e->builtin = find_builtin(e->name);
  if (e->builtin == nullptr) {
    return fail_null(name.pos, fmt::format("unknown function '{}'", name.text));
  }
  take();  // (
  if (punct(")")) return e;
  do {
    ExprPtr arg = expr();
    if (!arg) return nullptr;
    e->children.push_back(std::move(arg));
  } while (punct(","));
  if (!expect_punct(")")) return nullptr;
  return e;
}

ExprPtr Parser::case_expr() {
  ExprPtr e = node(Expr::Kind::Case, take().pos);
  if (!is_kw(peek(), "when") && !(e->case_on = expr())) return nullptr;
  if (!is_kw(peek(), "when")) {
    return fail_null(peek().pos, fmt::format("expected WHEN, found {}", detail::describe(peek())));
  }
  while (keyword("when")) {
    ExprPtr cond = expr();
    if (!cond || !expect_keyword("then")) return nullptr;
    ExprPtr then = expr();
    if (!then) return nullptr;
    e->whens.emplace_back(std::move(cond), std::move(then));
  }
  if (keyword("else") && !(e->else_ = expr())) return nullptr;
  if (!expect_keyword("end")) return nullptr;
  return e;
}

}  // namespace emqxd::rules::detail
