// Map and array functions (emqx_rule_funcs.erl: map_get over emqx_rule_maps, mget/mput
// over map/1, lists:nth/sublist/member for arrays).
#include <algorithm>
#include <vector>

#include "rules/functions.hpp"

namespace emqxd::rules::fn {

namespace json = boost::json;

namespace {

// "a.b.c" -> a, b, c (EMQX's map_path/1).
std::vector<std::string_view> dotted(std::string_view key) {
  std::vector<std::string_view> out;
  std::size_t from = 0;
  for (std::size_t at; (at = key.find('.', from)) != std::string_view::npos; from = at + 1)
    out.push_back(key.substr(from, at - from));
  out.push_back(key.substr(from));
  return out;
}

// emqx_rule_maps:nested_get/3 by keys: through objects, and strings holding JSON objects.
Value get_keys(const json::value& root, const std::vector<std::string_view>& keys) {
  json::value hold;
  const json::value* at = &root;
  for (auto k : keys) {
    if (at->is_string()) {
      auto decoded = json_decode(at->get_string());
      if (!decoded) return std::nullopt;
      hold = std::move(*decoded);
      at = &hold;
    }
    at = at->is_object() ? at->get_object().if_contains(k) : nullptr;
    if (at == nullptr) return std::nullopt;
  }
  return *at;
}

// emqx_rule_maps:nested_put/3 by keys: what is not an object on the way becomes one.
void put_keys(json::value& target, std::span<const std::string_view> keys, const Value& v) {
  if (!target.is_object()) {
    json::value sub;
    if (keys.size() > 1 && target.is_string()) {
      if (auto decoded = json_decode(target.get_string()); decoded && decoded->is_object()) {
        if (auto* found = decoded->get_object().if_contains(keys[0])) sub = std::move(*found);
      }
    }
    target = json::object();
    if (keys.size() > 1) target.get_object()[keys[0]] = std::move(sub);
  }
  json::object& obj = target.get_object();
  if (keys.size() > 1) {
    put_keys(obj[keys[0]], keys.subspan(1), v);
  } else if (v) {
    obj[keys[0]] = *v;
  } else {
    obj.erase(keys[0]);
  }
}

// map/1: an object, a string holding a JSON object, or [] (an empty proplist).
std::optional<json::object> as_map(const Value& v) {
  if (!v) return std::nullopt;
  if (v->is_object()) return v->get_object();
  if (v->is_string()) {
    auto decoded = json_decode(v->get_string());
    if (decoded && decoded->is_object()) return std::move(decoded->get_object());
    return std::nullopt;
  }
  if (v->is_array() && v->get_array().empty()) return json::object();
  return std::nullopt;
}

// mget/mput's key: a string, or an array of strings for a nested one.
bool key_list(const Value& k, std::vector<std::string_view>& out) {
  if (!k) return false;
  if (k->is_string()) {
    out.emplace_back(k->get_string());
    return true;
  }
  if (!k->is_array() || k->get_array().empty()) return false;
  for (const auto& e : k->get_array()) {
    if (!e.is_string()) return false;
    out.emplace_back(e.get_string());
  }
  return true;
}

std::vector<const json::key_value_pair*> by_key(const json::object& o) {
  std::vector<const json::key_value_pair*> kvs;
  for (const auto& kv : o)
    kvs.push_back(&kv);
  std::sort(kvs.begin(), kvs.end(), [](auto* a, auto* b) { return a->key() < b->key(); });
  return kvs;
}

bool nested_out(Call& c, Value& out, json::value v) {
  if (depth(v) > kMaxValueDepth) return c.fail("the result is nested too deep");
  out = std::move(v);
  return true;
}

bool array_out(Call& c, Value& out, json::array a) {
  if (!c.charge(kNodeCost * (a.size() + 1))) return false;
  out = json::value(std::move(a));
  return true;
}

}  // namespace

bool map_new_(Call&, Value& out) {
  out = json::value(json::object());
  return true;
}

bool map_get_(Call& c, Value& out) {
  auto key = c.text(0);
  if (!key) return c.badarg();
  Value found = c[1] ? get_keys(*c[1], dotted(*key)) : std::nullopt;
  out = found ? std::move(found) : (c.size() == 3 ? c[2] : std::nullopt);
  return true;
}

bool map_put_(Call& c, Value& out) {
  auto key = c.text(0);
  if (!key) return c.badarg();
  json::value target = c[2] && (c[2]->is_object() || c[2]->is_array()) ? *c[2] : json::object();
  const auto keys = dotted(*key);
  put_keys(target, keys, c[1]);
  return nested_out(c, out, std::move(target));
}

bool mget_(Call& c, Value& out) {
  std::vector<std::string_view> keys;
  auto map = as_map(c[1]);
  if (!map) return c.badarg();
  const Value fallback = c.size() == 3 ? c[2] : std::nullopt;
  if (!key_list(c[0], keys)) {
    out = fallback;  // no such key can be in a JSON object
    return true;
  }
  const json::value* at = nullptr;
  const json::object* in = &*map;
  for (auto k : keys) {
    at = in != nullptr ? in->if_contains(k) : nullptr;
    if (at == nullptr) break;
    in = at->is_object() ? &at->get_object() : nullptr;
  }
  out = at != nullptr ? Value(*at) : fallback;
  return true;
}

bool mput_(Call& c, Value& out) {
  std::vector<std::string_view> keys;
  auto map = as_map(c[2]);
  if (!map || !key_list(c[0], keys)) return c.badarg();
  json::value target(std::move(*map));
  put_keys(target, keys, c[1]);
  return nested_out(c, out, std::move(target));
}

bool map_keys_(Call& c, Value& out) {
  auto map = as_map(c[0]);
  if (!map) return c.badarg();
  json::array a;
  for (const auto* kv : by_key(*map))
    a.emplace_back(kv->key());
  return array_out(c, out, std::move(a));
}

bool map_values_(Call& c, Value& out) {
  auto map = as_map(c[0]);
  if (!map) return c.badarg();
  json::array a;
  for (const auto* kv : by_key(*map))
    a.push_back(kv->value());
  return array_out(c, out, std::move(a));
}

bool map_to_entries_(Call& c, Value& out) {
  auto map = as_map(c[0]);
  if (!map) return c.badarg();
  json::array a;
  for (const auto* kv : by_key(*map))
    a.push_back(json::object{{"key", kv->key()}, {"value", kv->value()}});
  return array_out(c, out, std::move(a));
}

bool nth_(Call& c, Value& out) {
  auto n = c.integer(0);
  auto list = c.array(1);
  if (!n || !list) return c.badarg();
  if (*n < 1 || static_cast<std::uint64_t>(*n) > list->size()) {
    return c.fail("index out of range");
  }
  out = (*list)[static_cast<std::size_t>(*n - 1)];
  return true;
}

bool length_(Call& c, Value& out) {
  auto list = c.array(0);
  if (!list) return c.badarg();
  out = json::value(static_cast<std::int64_t>(list->size()));
  return true;
}

// sublist(Len, List) and sublist(Start, Len, List): lists:sublist/2,3.
bool sublist_(Call& c, Value& out) {
  const bool from_start = c.size() == 2;
  auto start = from_start ? std::optional<std::int64_t>(1) : c.integer(0);
  auto len = c.integer(from_start ? 0 : 1);
  auto list = c.array(from_start ? 1 : 2);
  if (!start || !len || !list || *len < 0 || *start < 1 ||
      static_cast<std::uint64_t>(*start) > list->size() + 1) {
    return c.badarg();
  }
  json::array a;
  const auto begin = static_cast<std::size_t>(*start - 1);
  const auto end = std::min(
      list->size(), begin + static_cast<std::size_t>(std::min<std::int64_t>(*len, 1 << 30)));
  for (std::size_t i = begin; i < end; ++i)
    a.push_back((*list)[i]);
  return array_out(c, out, std::move(a));
}

bool first_(Call& c, Value& out) {
  auto list = c.array(0);
  if (!list || list->empty()) return c.badarg();
  out = list->front();
  return true;
}

bool last_(Call& c, Value& out) {
  auto list = c.array(0);
  if (!list || list->empty()) return c.badarg();
  out = list->back();
  return true;
}

// lists:member/2: =:=, so 2 is not 2.0.
bool contains_(Call& c, Value& out) {
  auto list = c.array(1);
  if (!list) return c.badarg();
  bool found = false;
  for (const auto& e : *list) {
    if (exact_equal(c[0] ? &*c[0] : nullptr, &e)) {
      found = true;
      break;
    }
  }
  out = json::value(found);
  return true;
}

}  // namespace emqxd::rules::fn
