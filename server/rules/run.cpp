// SELECT and FOREACH over one event (emqx_rule_runtime:evaluate_select/3 and
// evaluate_foreach/5), and the FROM clause's match.
#include <algorithm>
#include <boost/json/string.hpp>

#include "broker/topic.hpp"
#include "rules/eval.hpp"
#include "rules/evaluator.hpp"

namespace emqxd::rules {

namespace json = boost::json;

namespace {

using detail::Evaluator;
using detail::Layer;
using detail::Names;
using detail::Scope;
using detail::Selected;

// maps:merge(Action, Columns) for `*`: the columns win.
bool select_star(Evaluator& ev, Selected& sel, const json::object& columns,
                 std::size_t columns_size) {
  if (!ev.charge(columns_size)) return false;
  for (const auto& kv : columns) {
    sel.object[kv.key()] = kv.value();
    auto& und = sel.undefined;
    und.erase(std::remove(und.begin(), und.end(), kv.key()), und.end());
  }
  return true;
}

// The fields in order, each seeing those before it (EMQX's select_and_transform/3).
bool select_fields(Evaluator& ev, const std::vector<Field>& fields, const Names& context,
                   const json::object& star_source, std::size_t star_size, Selected& sel,
                   Value* last = nullptr) {
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const Field& f = fields[i];
    if (f.star) {
      if (!select_star(ev, sel, star_source, star_size)) return false;
      continue;
    }
    Scope scope{&sel, context};
    Value v;
    if (!ev.eval(*f.expr, scope, v)) return false;
    if (last != nullptr && i + 1 == fields.size()) *last = v;
    if (!ev.put(sel, f.key, std::move(v))) return false;
  }
  return true;
}

// The merged context as one object: for FOREACH without DO, and `*` in DO.
json::object materialize(const json::object& columns, const Selected& sel, std::string_view name,
                         const json::value& item) {
  json::object out = columns;
  for (const auto& key : sel.undefined)
    out.erase(key);
  for (const auto& kv : sel.object)
    out[kv.key()] = kv.value();
  out[name] = item;
  return out;
}

std::vector<json::object> run_select(Evaluator& ev, const Statement& st,
                                     const json::object& columns, std::size_t columns_size) {
  if (st.where_first) {
    // WHERE reads only columns (Statement::where_first): no output is built for nothing.
    Scope scope;
    scope.merged.add(Layer{&columns, nullptr, {}, nullptr});
    bool pass = false;
    if (!ev.condition(*st.where, scope, pass) || !pass) return {};
    Selected sel;
    if (!select_fields(ev, st.fields, Names(columns), columns, columns_size, sel)) return {};
    std::vector<json::object> out;
    out.push_back(std::move(sel.object));
    return out;
  }
  Selected sel;
  if (!select_fields(ev, st.fields, Names(columns), columns, columns_size, sel)) return {};
  if (st.where) {
    Scope scope;
    scope.merged.add(Layer{&sel.object, &sel.undefined, {}, nullptr});
    scope.merged.add(Layer{&columns, nullptr, {}, nullptr});
    bool pass = false;
    if (!ev.condition(*st.where, scope, pass) || !pass) return {};
  }
  std::vector<json::object> out;
  out.push_back(std::move(sel.object));
  return out;
}

std::vector<json::object> run_foreach(Evaluator& ev, const Statement& st,
                                      const json::object& columns, std::size_t columns_size) {
  Selected sel;
  Value collection;
  if (!select_fields(ev, st.fields, Names(columns), columns, columns_size, sel, &collection)) {
    return {};
  }
  Scope where;
  where.merged.add(Layer{&sel.object, &sel.undefined, {}, nullptr});
  where.merged.add(Layer{&columns, nullptr, {}, nullptr});
  if (st.where) {
    bool pass = false;
    if (!ev.condition(*st.where, where, pass) || !pass) return {};
  }
  std::vector<json::object> out;
  if (!collection || !collection->is_array()) return out;
  const std::size_t selected_size = detail::approx_size(sel.object);
  for (const json::value& item : collection->get_array()) {
    if (!ev.step()) return {};
    Names context;
    context.add(Layer{nullptr, nullptr, st.item_name, &item});
    context.add(Layer{&sel.object, &sel.undefined, {}, nullptr});
    context.add(Layer{&columns, nullptr, {}, nullptr});
    if (st.incase) {
      bool pass = false;
      if (!ev.condition(*st.incase, Scope{nullptr, context}, pass)) return {};
      if (!pass) continue;
    }
    if (st.do_fields.empty()) {
      if (!ev.charge(columns_size + selected_size + detail::approx_size(item))) return {};
      out.push_back(materialize(columns, sel, st.item_name, item));
      continue;
    }
    Selected each;
    const bool star = std::any_of(st.do_fields.begin(), st.do_fields.end(),
                                  [](const Field& f) { return f.star; });
    const json::object whole =
        star ? materialize(columns, sel, st.item_name, item) : json::object();
    if (!select_fields(ev, st.do_fields, context, whole, columns_size + selected_size, each)) {
      return {};
    }
    out.push_back(std::move(each.object));
  }
  return out;
}

bool is_event_name(std::string_view s) {
  return s.substr(0, 8) == "$events/" || s.substr(0, 9) == "$bridges/" ||
         s.substr(0, 9) == "$sources/";
}

}  // namespace

std::vector<json::object> run(const Statement& st, const json::object& columns, std::string& error,
                              EventCache* cache) {
  error.clear();
  Evaluator ev(columns, error, cache);
  std::size_t columns_size = 0;
  if (cache != nullptr && cache->columns_size) {
    columns_size = *cache->columns_size;
  } else {
    columns_size = detail::approx_size(columns);
    if (cache != nullptr) cache->columns_size = columns_size;
  }
  auto out = st.foreach ? run_foreach(ev, st, columns, columns_size)
                        : run_select(ev, st, columns, columns_size);
  if (!error.empty()) out.clear();
  return out;
}

bool matches_from(const Statement& st, std::string_view topic_or_event) {
  for (const std::string& from : st.from) {
    if (is_event_name(from)) {
      if (from == topic_or_event) return true;
      // "$sources/mqtt:x" is another name of "$bridges/mqtt:x" (EMQX's).
      if (from.starts_with("$sources/") && topic_or_event.starts_with("$bridges/") &&
          std::string_view(from).substr(9) == topic_or_event.substr(9))
        return true;
    } else if (!is_event_name(topic_or_event) && broker::topic_matches(from, topic_or_event)) {
      return true;
    }
  }
  return false;
}

}  // namespace emqxd::rules
