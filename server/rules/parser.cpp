// The statement, its fields, aliases, sources and paths (parser.hpp).
#include "rules/parser.hpp"

#include <fmt/format.h>

#include "rules/functions.hpp"

namespace emqxd::rules::detail {

using TK = Token::Kind;

bool Parser::statement(Statement& st) {
  if (keyword("select")) {
    if (!fields(st.fields)) return false;
  } else if (keyword("foreach")) {
    st.foreach = true;
    if (!fields(st.fields)) return false;
    if (keyword("do") && !fields(st.do_fields)) return false;
    if (keyword("incase") && !(st.incase = expr())) return false;
    const Field& last = st.fields.back();
    if (last.star) return fail(peek().pos, "FOREACH needs an expression, not *");
    if (last.aliased && last.key.size() == 1 && last.key[0].kind == PathSegment::Kind::Key) {
      st.item_name = last.key[0].key;
    }
  } else {
    return fail(peek().pos,
                fmt::format("expected SELECT or FOREACH, found {}", detail::describe(peek())));
  }
  if (!expect_keyword("from") || !sources(st.from)) return false;
  if (keyword("where") && !(st.where = expr())) return false;
  if (peek().kind != TK::End) {
    return fail(peek().pos, fmt::format("unexpected {}", detail::describe(peek())));
  }
  return true;
}

const Token& Parser::peek(std::size_t ahead) const {
  return t_[std::min(at_ + ahead, t_.size() - 1)];
}

const Token& Parser::take() {
  const Token& t = t_[at_];
  if (at_ + 1 < t_.size()) ++at_;
  return t;
}

bool Parser::punct(std::string_view p) {
  if (peek().kind == TK::Punct && peek().text == p) {
    take();
    return true;
  }
  return false;
}

bool Parser::is_kw(const Token& t, std::string_view k) const {
  return t.kind == TK::Name && iequals(t.text, k);
}

bool Parser::keyword(std::string_view k) {
  if (is_kw(peek(), k)) {
    take();
    return true;
  }
  return false;
}

bool Parser::fail(Position p, std::string what) {
  if (error_.message.empty()) {
    error_.pos = p;
    error_.message = fmt::format("{}:{}: {}", p.line, p.column, what);
  }
  return false;
}

std::nullptr_t Parser::fail_null(Position p, std::string what) {
  fail(p, std::move(what));
  return nullptr;
}

bool Parser::expect_punct(std::string_view p) {
  if (punct(p)) return true;
  return fail(peek().pos, fmt::format("expected '{}', found {}", p, detail::describe(peek())));
}

bool Parser::expect_keyword(std::string_view k) {
  if (keyword(k)) return true;
  std::string upper(k);
  for (char& c : upper)
    c = static_cast<char>(c - 32);
  return fail(peek().pos, fmt::format("expected {}, found {}", upper, detail::describe(peek())));
}

bool Parser::too_deep(const Depth& d) {
  if (d.ok()) return false;
  fail(peek().pos, fmt::format("nested deeper than {} levels", kMaxDepth));
  return true;
}

ExprPtr Parser::node(Expr::Kind kind, Position pos) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->pos = pos;
  return e;
}

bool Parser::fields(std::vector<Field>& out) {
  do {
    Field f;
    if (punct("*")) {
      f.star = true;
    } else {
      if (!(f.expr = expr())) return false;
      if (keyword("as")) {
        if (!alias(f.key)) return false;
        f.aliased = true;
      } else if ((peek().kind == TK::Name && !is_keyword(peek())) ||
                 peek().kind == TK::QuotedName) {
        // EMQX takes a name right after an expression as its alias, without AS.
        if (!alias(f.key)) return false;
        f.aliased = true;
      } else {
        f.key = implicit_key(*f.expr, out.size() + 1);
      }
    }
    out.push_back(std::move(f));
  } while (punct(","));
  return true;
}

// The key EMQX gives a field without an alias (emqx_rule_runtime:alias/2).
Path Parser::implicit_key(const Expr& e, std::size_t position) {
  if (e.kind == Expr::Kind::Lookup || e.kind == Expr::Kind::GetRange) return e.path;
  PathSegment s;
  if (e.kind == Expr::Kind::Const && !e.undefined && e.value.is_string()) {
    s.key = std::string(e.value.get_string());
    return {s};
  }
  std::string_view type = "op";
  switch (e.kind) {
    case Expr::Kind::Const:
      type = "const";
      break;
    case Expr::Kind::List:
      type = "list";
      break;
    case Expr::Kind::Range:
      type = "range";
      break;
    case Expr::Kind::Case:
      type = "case";
      break;
    case Expr::Kind::Call:
      type = "fun";
      break;
    default:
      break;
  }
  s.key = fmt::format("_v_{}_{}", type, position);
  return {s};
}

bool Parser::alias(Path& out) {
  const Token& t = peek();
  if (!((t.kind == TK::Name && !is_keyword(t)) || t.kind == TK::QuotedName)) {
    return fail(t.pos, fmt::format("expected an alias, found {}", detail::describe(t)));
  }
  return path(out);
}

bool Parser::sources(std::vector<std::string>& out) {
  do {
    const Token& t = peek();
    if (t.kind == TK::QuotedName || t.kind == TK::String ||
        (t.kind == TK::Name && !is_keyword(t))) {
      out.push_back(take().text);
    } else {
      return fail(t.pos,
                  fmt::format("expected a topic or event in FROM, found {}", detail::describe(t)));
    }
  } while (punct(","));
  return true;
}

// A name, then any of .segment, [index] and, last, [a..b]. The caller checked the name.
bool Parser::path(Path& out, bool* range, Token* range_token) {
  PathSegment first;
  first.key = take().text;
  out.push_back(std::move(first));
  while (true) {
    if (out.size() > static_cast<std::size_t>(kMaxDepth)) {
      return fail(peek().pos, fmt::format("a path longer than {} segments", kMaxDepth));
    }
    if (punct(".")) {
      const Token& s = peek();
      if (s.kind == TK::Name || s.kind == TK::QuotedName || s.kind == TK::String ||
          s.kind == TK::Int) {
        PathSegment seg;
        seg.key = take().text;
        out.push_back(std::move(seg));
        continue;
      }
      return fail(s.pos, fmt::format("expected a name after '.', found {}", detail::describe(s)));
    }
    if (peek().kind == TK::Range && range != nullptr) {
      *range = true;
      *range_token = take();
      return true;
    }
    if (peek().kind == TK::Punct && peek().text == "[") {
      take();
      PathSegment seg;
      if (!index(seg)) return false;
      out.push_back(std::move(seg));
      continue;
    }
    return true;
  }
}

bool Parser::index(PathSegment& seg) {
  Depth d(*this);
  if (too_deep(d)) return false;
  bool neg = false;
  if (punct("-")) {
    neg = true;
  } else {
    punct("+");
  }
  const Token& t = peek();
  if (t.kind == TK::Int) {
    take();
    if (t.integer == 0) {
      seg.kind = neg ? PathSegment::Kind::Tail : PathSegment::Kind::Head;
    } else {
      seg.kind = PathSegment::Kind::Index;
      seg.index = neg ? -t.integer : t.integer;
    }
  } else if (!neg && ((t.kind == TK::Name && !is_keyword(t)) || t.kind == TK::QuotedName)) {
    seg.kind = PathSegment::Kind::Ref;
    if (!path(seg.ref)) return false;
  } else {
    return fail(t.pos, fmt::format("expected an index, found {}", detail::describe(t)));
  }
  return expect_punct("]");
}

}  // namespace emqxd::rules::detail

namespace emqxd::rules {

namespace {

// The first names the expression reads (paths' first keys, index names included).
void read_names(const Expr& e, std::vector<std::string>& out, int depth = 0) {
  if (depth > kMaxDepth + 8) {
    out.emplace_back();  // deeper than the parser allows: say "reads everything"
    return;
  }
  auto path_names = [&](const Path& p, auto& self) -> void {
    if (!p.empty()) out.push_back(p[0].key);
    for (const auto& seg : p) {
      if (seg.kind == PathSegment::Kind::Ref) self(seg.ref, self);
    }
  };
  if (e.kind == Expr::Kind::Lookup || e.kind == Expr::Kind::GetRange)
    path_names(e.path, path_names);
  for (const auto& c : e.children)
    read_names(*c, out, depth + 1);
  if (e.case_on) read_names(*e.case_on, out, depth + 1);
  for (const auto& [w, t] : e.whens) {
    read_names(*w, out, depth + 1);
    read_names(*t, out, depth + 1);
  }
  if (e.else_) read_names(*e.else_, out, depth + 1);
}

void plan(Statement& st) {
  if (st.foreach || !st.where) return;
  std::vector<std::string> names;
  read_names(*st.where, names);
  for (const auto& f : st.fields) {
    if (f.star || f.key.empty()) continue;  // `*` copies the columns as they are
    for (const auto& n : names) {
      if (n.empty() || n == f.key[0].key) return;
    }
  }
  st.where_first = true;
}

}  // namespace

std::variant<Statement, SqlError> parse(std::string_view sql) {
  SqlError error;
  if (sql.size() > kMaxSqlBytes) {
    error.message = fmt::format("1:1: the statement is longer than {} bytes", kMaxSqlBytes);
    return error;
  }
  std::vector<detail::Token> tokens;
  if (!detail::tokenize(sql, tokens, error)) return error;
  Statement st;
  detail::Parser parser(std::move(tokens), error);
  if (!parser.statement(st)) return error;
  plan(st);
  return st;
}

}  // namespace emqxd::rules
