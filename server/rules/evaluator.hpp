#pragma once
// The evaluator behind rules::run (eval.hpp), internal to server/rules.
//
// Names are looked up as EMQX 5 looks them up (emqx_rule_runtime:eval/2 over a list of
// contexts): first in the fields selected so far, and when that gives undefined, in the
// event's columns merged with what the statement bound (FOREACH's fields, the element).
// A merged context is a stack of layers, so that FOREACH need not copy the columns for
// every element: the first layer that has a key wins, as maps:merge/2 would have it, and
// a field set to undefined hides the columns' value of the same name.
//
// The payload is read as JSON once per run, when a path goes into it (`payload.x`), and
// a payload that is not JSON fails the run there, as in EMQX (decode_json_failed). Other
// strings on a path are read as JSON where the path goes into them (`p.a` with p a JSON
// string), and a string that is not JSON holds nothing.
#include <array>
#include <boost/json/object.hpp>
#include <deque>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "rules/eval.hpp"
#include "rules/sql.hpp"
#include "rules/value.hpp"

namespace emqxd::rules::detail {

// The fields selected so far: an object, and the top-level names set to undefined.
struct Selected {
  boost::json::object object;
  std::vector<std::string> undefined;
};

struct Layer {
  const boost::json::object* object = nullptr;
  const std::vector<std::string>* undefined = nullptr;
  // Or a single name (FOREACH's element).
  std::string_view name;
  const boost::json::value* value = nullptr;
};

// Where names are read: one map, or several merged (the first layer holding a name wins).
class Names {
 public:
  Names() = default;
  explicit Names(const boost::json::object& o) { add(Layer{&o, nullptr, {}, nullptr}); }
  explicit Names(const Selected& s) { add(Layer{&s.object, &s.undefined, {}, nullptr}); }
  void add(Layer l) { layers_[count_++] = l; }
  // The value of `key`; nullptr when absent or undefined. `present`: whether a layer had it.
  const boost::json::value* find(std::string_view key, bool* present = nullptr) const;

 private:
  std::array<Layer, 3> layers_{};
  std::size_t count_ = 0;
};

struct Scope {
  const Selected* selected = nullptr;  // looked in first, when set
  Names merged;
};

class Evaluator {
 public:
  Evaluator(const boost::json::object& columns, std::string& error, EventCache* cache = nullptr);

  bool eval(const Expr& e, const Scope& scope, Value& out);
  // WHERE, INCASE, WHEN: true only for the boolean true.
  bool condition(const Expr& e, const Scope& scope, bool& out);
  // Assigns `v` at `key` (an alias or a field's own path), as emqx_rule_maps:nested_put.
  bool put(Selected& sel, const Path& key, Value v);

  bool fail(std::string message);
  bool step();
  bool charge(std::size_t bytes);
  Budget& budget() { return budget_; }

 private:
  // paths.cpp
  bool lookup(const Path& path, const Scope& scope, Value& out);
  bool get(const Path& path, const Names& names, Value& out);
  bool walk(const boost::json::value* at, std::span<const PathSegment> rest, const Names& origin,
            Value& out);
  // The payload read as JSON: the run's cached copy, or one kept in `hold`.
  bool payload_json(const boost::json::value& payload, std::deque<boost::json::value>& hold,
                    const boost::json::value*& out);
  bool resolve_index(const PathSegment& seg, const Names& origin, std::optional<std::int64_t>& i);
  bool put_in(boost::json::value& target, std::span<const PathSegment> segs, const Value& v,
              const Names& origin);

  // eval.cpp
  bool binary(const Expr& e, const Scope& scope, Value& out);
  bool compare(Op op, const Value& l, const Value& r, bool& out);
  bool arithmetic(Op op, const Value& l, const Value& r, Value& out);
  bool call(const Expr& e, const Scope& scope, Value& out);
  bool case_of(const Expr& e, const Scope& scope, Value& out);

  const boost::json::object& columns_;
  const boost::json::string* columns_payload_ = nullptr;
  bool payload_decoded_ = false;
  boost::json::value payload_;
  EventCache* cache_ = nullptr;  // shared with the event's other rules
  Budget budget_;
  std::string& error_;
};

// A rough size of a value in memory (its nodes and strings), for the budget.
std::size_t approx_size(const boost::json::value& v);
std::size_t approx_size(const boost::json::object& o);

}  // namespace emqxd::rules::detail
