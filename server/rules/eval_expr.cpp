// Expressions, as emqx_rule_runtime:eval/2 and match_conditions/2 evaluate them.
#include <fmt/format.h>

#include <cmath>

#include "broker/topic.hpp"
#include "rules/evaluator.hpp"
#include "rules/functions.hpp"

namespace emqxd::rules::detail {

namespace json = boost::json;

namespace {

// lists:seq/2 longer than this fails: it would only fill memory.
constexpr std::int64_t kMaxRange = 100'000;

std::string_view op_name(Op op) {
  switch (op) {
    case Op::Add:
      return "+";
    case Op::Sub:
      return "-";
    case Op::Mul:
      return "*";
    case Op::Div:
      return "/";
    case Op::IntDiv:
      return "div";
    case Op::Mod:
      return "mod";
    case Op::Eq:
      return "=";
    case Op::Ne:
      return "!=";
    case Op::Lt:
      return "<";
    case Op::Le:
      return "<=";
    case Op::Gt:
      return ">";
    case Op::Ge:
      return ">=";
    case Op::TopicMatch:
      return "=~";
    case Op::Neg:
    case Op::Plus:
      break;
  }
  return op == Op::Neg ? "-" : "+";
}

bool is_atom(const Value& v) {
  return v && (v->is_bool() || v->is_null());
}

}  // namespace

Evaluator::Evaluator(const json::object& columns, std::string& error, EventCache* cache)
    : columns_(columns), cache_(cache), error_(error) {
  if (const json::value* p = columns.if_contains("payload"); p != nullptr && p->is_string()) {
    columns_payload_ = &p->get_string();
  }
}

bool Evaluator::fail(std::string message) {
  if (error_.empty()) error_ = std::move(message);
  return false;
}

bool Evaluator::step() {
  if (budget_.steps == 0) return fail("the rule's step budget is spent");
  --budget_.steps;
  return true;
}

bool Evaluator::charge(std::size_t bytes) {
  if (bytes > budget_.bytes) {
    budget_.bytes = 0;
    return fail("the rule's memory budget is spent");
  }
  budget_.bytes -= bytes;
  return true;
}

bool Evaluator::eval(const Expr& e, const Scope& scope, Value& out) {
  if (!step()) return false;
  switch (e.kind) {
    case Expr::Kind::Const:
      if (e.undefined) {
        out.reset();
        return true;
      }
      // A string constant is copied each time: FOREACH may evaluate it for every element.
      if (e.value.is_string() && !charge(e.value.get_string().size())) return false;
      out = e.value;
      return true;
    case Expr::Kind::Lookup:
      return lookup(e.path, scope, out);
    case Expr::Kind::List: {
      if (!charge(kNodeCost * (e.children.size() + 1))) return false;
      json::array a;
      a.reserve(e.children.size());
      for (const ExprPtr& c : e.children) {
        Value v;
        if (!eval(*c, scope, v)) return false;
        a.push_back(v ? std::move(*v) : json::value(nullptr));
      }
      out = std::move(a);
      return true;
    }
    case Expr::Kind::Range: {
      // lists:seq/2: First..Last, or empty when Last is First - 1. Unsigned differences
      // cannot overflow whatever the bounds.
      const bool empty = e.last < e.first && e.last == e.first - 1;
      if ((e.last < e.first && !empty) ||
          (!empty && static_cast<std::uint64_t>(e.last) - static_cast<std::uint64_t>(e.first) >=
                         static_cast<std::uint64_t>(kMaxRange))) {
        return fail(fmt::format("[{}..{}]: not a range of at most {} integers", e.first, e.last,
                                kMaxRange));
      }
      json::array a;
      if (!empty) {
        const auto n = static_cast<std::size_t>(e.last - e.first) + 1;
        if (!charge(kNodeCost * (n + 1))) return false;
        a.reserve(n);
        for (std::int64_t i = e.first;; ++i) {
          a.push_back(i);
          if (i == e.last) break;
        }
      }
      out = std::move(a);
      return true;
    }
    case Expr::Kind::GetRange: {
      Value v;
      if (!lookup(e.path, scope, v)) return false;
      if (!v || !v->is_array()) return fail("range_get: not a list");
      const auto len = static_cast<std::int64_t>(v->get_array().size());
      if (e.first == 0 || e.last == 0) return fail("range_get: index 0");
      // Negative indexes count from the end; anything outside the list is refused as
      // lists:sublist/3 refuses it.
      auto index = [&](std::int64_t i) { return i < 0 ? (i < -len ? 0 : len + i + 1) : i; };
      const std::int64_t from = index(e.first);
      const std::int64_t to = index(e.last);
      if (from < 1 || from > len + 1 || to < from - 1) return fail("range_get: bad range");
      json::array a;
      for (std::int64_t i = from; i <= to && i <= len; ++i)
        a.push_back(v->get_array()[static_cast<std::size_t>(i - 1)]);
      out = std::move(a);
      return true;
    }
    case Expr::Kind::Unary: {
      Value v;
      if (!eval(*e.children[0], scope, v)) return false;
      if (e.op == Op::Plus) {
        out = std::move(v);
        return true;
      }
      if (v && v->is_int64() && v->get_int64() != INT64_MIN) {
        out = json::value(-v->get_int64());
      } else if (v && v->is_number()) {
        out = json::value(-*as_double(*v));
      } else {
        return fail(fmt::format("-: bad operand ({})", type_name(v)));
      }
      return true;
    }
    case Expr::Kind::Binary:
      return binary(e, scope, out);
    case Expr::Kind::And:
    case Expr::Kind::Or:
    case Expr::Kind::Not:
    case Expr::Kind::In: {
      bool b = false;
      if (!condition(e, scope, b)) return false;
      out = json::value(b);
      return true;
    }
    case Expr::Kind::Case:
      return case_of(e, scope, out);
    case Expr::Kind::Call:
      return call(e, scope, out);
  }
  return fail("unknown expression");
}

bool Evaluator::condition(const Expr& e, const Scope& scope, bool& out) {
  switch (e.kind) {
    case Expr::Kind::And:
    case Expr::Kind::Or: {
      if (!step() || !condition(*e.children[0], scope, out)) return false;
      const bool decided = e.kind == Expr::Kind::And ? !out : out;
      if (decided) return true;
      return condition(*e.children[1], scope, out);
    }
    case Expr::Kind::Not: {
      if (!step()) return false;
      Value v;
      if (!eval(*e.children[0], scope, v)) return false;
      // EMQX: NOT of anything but a boolean is false.
      out = v && v->is_bool() && !v->get_bool();
      return true;
    }
    case Expr::Kind::In: {
      if (!step()) return false;
      Value v;
      if (!eval(*e.children[0], scope, v)) return false;
      bool member = false;
      for (std::size_t i = 1; i < e.children.size(); ++i) {
        Value item;
        if (!eval(*e.children[i], scope, item)) return false;
        if (!member && exact_equal(v, item)) member = true;
      }
      out = e.negated ? !member : member;
      return true;
    }
    default: {
      Value v;
      if (!eval(e, scope, v)) return false;
      out = v && v->is_bool() && v->get_bool();
      return true;
    }
  }
}

bool Evaluator::binary(const Expr& e, const Scope& scope, Value& out) {
  Value l;
  Value r;
  if (!eval(*e.children[0], scope, l) || !eval(*e.children[1], scope, r)) return false;
  switch (e.op) {
    case Op::Eq:
    case Op::Ne:
    case Op::Lt:
    case Op::Le:
    case Op::Gt:
    case Op::Ge:
    case Op::TopicMatch: {
      bool b = false;
      if (!compare(e.op, l, r, b)) return false;
      out = json::value(b);
      return true;
    }
    default:
      return arithmetic(e.op, l, r, out);
  }
}

bool Evaluator::compare(Op op, const Value& l0, const Value& r0, bool& out) {
  // emqx_rule_runtime:compare/3: undefined equals only undefined and orders against nothing.
  if (!l0 && !r0) {
    out = op == Op::Eq || op == Op::Le || op == Op::Ge;
    return true;
  }
  if (!l0 || !r0) {
    out = false;
    return true;
  }
  if (op == Op::TopicMatch) {
    out = l0->is_string() && r0->is_string() &&
          broker::topic_matches(std::string_view(r0->get_string()),
                                std::string_view(l0->get_string()));
    return true;
  }
  Value l = l0;
  Value r = r0;
  // A number compared with a string compares with the number the string spells; an atom
  // (true, false, null) compared with a string compares by name.
  auto convert = [&](Value& s) {
    auto n = parse_erlang_number(std::string_view(s->get_string()));
    if (!n)
      return fail(fmt::format("{}: '{}' is not a number", op_name(op),
                              std::string_view(s->get_string()).substr(0, 64)));
    s = std::move(*n);
    return true;
  };
  if (l->is_number() && r->is_string()) {
    if (!convert(r)) return false;
  } else if (l->is_string() && r->is_number()) {
    if (!convert(l)) return false;
  } else if (is_atom(l) && r->is_string()) {
    l = json::value(json::string(to_text(l)));
  } else if (l->is_string() && is_atom(r)) {
    r = json::value(json::string(to_text(r)));
  }
  const int c = term_compare(l, r);
  switch (op) {
    case Op::Eq:
      out = c == 0;
      break;
    case Op::Ne:
      out = c != 0;
      break;
    case Op::Lt:
      out = c < 0;
      break;
    case Op::Le:
      out = c <= 0;
      break;
    case Op::Gt:
      out = c > 0;
      break;
    default:
      out = c >= 0;
      break;
  }
  return true;
}

bool Evaluator::arithmetic(Op op, const Value& l, const Value& r, Value& out) {
  const bool numbers = l && r && l->is_number() && r->is_number();
  if (op == Op::Add && !numbers && ((l && l->is_string()) || (r && r->is_string()))) {
    // '+' with a string operand concatenates, the other operand taken as text.
    std::string s = to_text(l);
    append_text(r, s);
    if (!charge(s.size())) return false;
    out = json::value(json::string(s));
    return true;
  }
  auto bad = [&] {
    return fail(fmt::format("{}: bad operands ({}, {})", op_name(op), type_name(l), type_name(r)));
  };
  if (!numbers) return bad();
  const auto li = as_int(*l);
  const auto ri = as_int(*r);
  const bool ints = li && ri;
  switch (op) {
    case Op::Add:
    case Op::Sub:
    case Op::Mul: {
      std::int64_t res = 0;
      bool overflow = true;
      if (ints) {
        overflow = op == Op::Add   ? __builtin_add_overflow(*li, *ri, &res)
                   : op == Op::Sub ? __builtin_sub_overflow(*li, *ri, &res)
                                   : __builtin_mul_overflow(*li, *ri, &res);
      }
      if (!overflow) {
        out = json::value(res);
        return true;
      }
      // Erlang would make a bignum: a float is the closest we hold.
      const double a = *as_double(*l);
      const double b = *as_double(*r);
      const double d = op == Op::Add ? a + b : (op == Op::Sub ? a - b : a * b);
      if (!std::isfinite(d)) return fail(fmt::format("{}: overflow", op_name(op)));
      out = json::value(d);
      return true;
    }
    case Op::Div: {
      const double b = *as_double(*r);
      if (b == 0) return fail("/: division by zero");
      const double d = *as_double(*l) / b;
      if (!std::isfinite(d)) return fail("/: overflow");
      out = json::value(d);
      return true;
    }
    default: {
      if (!ints) return bad();
      if (*ri == 0) return fail(fmt::format("{}: division by zero", op_name(op)));
      if (*li == INT64_MIN && *ri == -1) {
        out = op == Op::IntDiv ? json::value(-static_cast<double>(INT64_MIN)) : json::value(0);
        return true;
      }
      // div truncates and mod is rem: the sign of the dividend, as Erlang's.
      out = json::value(op == Op::IntDiv ? *li / *ri : *li % *ri);
      return true;
    }
  }
}

bool Evaluator::case_of(const Expr& e, const Scope& scope, Value& out) {
  Value on;
  if (e.case_on && !eval(*e.case_on, scope, on)) return false;
  for (const auto& [when, then] : e.whens) {
    bool match = false;
    if (e.case_on) {
      // CASE x WHEN v: a pattern match, so 1 does not match 1.0.
      Value v;
      if (!eval(*when, scope, v)) return false;
      match = exact_equal(on, v);
    } else if (!condition(*when, scope, match)) {
      return false;
    }
    if (match) return eval(*then, scope, out);
  }
  if (e.else_) return eval(*e.else_, scope, out);
  out.reset();
  return true;
}

bool Evaluator::call(const Expr& e, const Scope& scope, Value& out) {
  const Builtin& fn = *e.builtin;
  const auto n = static_cast<int>(e.children.size());
  if (n < fn.min_args || (fn.max_args >= 0 && n > fn.max_args)) {
    return fail(fmt::format("{}/{}: no such function (it takes {})", fn.name, n,
                            fn.max_args < 0 ? fmt::format("{} or more", fn.min_args)
                            : fn.min_args == fn.max_args
                                ? fmt::format("{}", fn.min_args)
                                : fmt::format("{} to {}", fn.min_args, fn.max_args)));
  }
  std::vector<Value> args(e.children.size());
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (!eval(*e.children[i], scope, args[i])) return false;
  }
  std::string error;
  Call c(fn, args, budget_, error);
  out.reset();
  if (!fn.fn(c, out)) return fail(error.empty() ? fmt::format("{}: failed", fn.name) : error);
  if (out && (out->is_string() || out->is_array() || out->is_object())) {
    // Functions charge what they build as they go; this catches what they return.
    if (!charge(out->is_string() ? out->get_string().size() : 16)) return false;
  }
  return true;
}

}  // namespace emqxd::rules::detail
