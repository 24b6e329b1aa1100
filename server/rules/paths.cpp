// Reading and writing along paths, as emqx_rule_maps:nested_get/nested_put do:
// `a.b[2]` reads through objects, arrays and strings that hold JSON; writing creates what
// is missing and writes over what is in the way (a key into a non-object makes a fresh
// object, an index into a non-array a one-element array, [0] prepends, [-0] appends, an
// index past the end changes nothing).
#include <algorithm>

#include "rules/evaluator.hpp"

namespace emqxd::rules::detail {

namespace json = boost::json;

namespace {

// 1-based, negative from the end; nullptr when out of range (and for 0).
json::value* nth(json::array& a, std::int64_t i) {
  const auto n = static_cast<std::int64_t>(a.size());
  if (i > 0 && i <= n) return &a[static_cast<std::size_t>(i - 1)];
  if (i < 0 && -i <= n) return &a[static_cast<std::size_t>(n + i)];
  return nullptr;
}

const json::value* nth(const json::array& a, std::int64_t i) {
  return nth(const_cast<json::array&>(a), i);
}

}  // namespace

const json::value* Names::find(std::string_view key, bool* present) const {
  for (std::size_t i = 0; i < count_; ++i) {
    const Layer& l = layers_[i];
    if (l.object == nullptr) {
      if (l.name == key) {
        if (present != nullptr) *present = true;
        return l.value;
      }
      continue;
    }
    if (const json::value* v = l.object->if_contains(key)) {
      if (present != nullptr) *present = true;
      return v;
    }
    if (l.undefined != nullptr &&
        std::find(l.undefined->begin(), l.undefined->end(), key) != l.undefined->end()) {
      break;  // set to undefined: hides the layers below
    }
  }
  if (present != nullptr) *present = false;
  return nullptr;
}

bool Evaluator::resolve_index(const PathSegment& seg, const Names& origin,
                              std::optional<std::int64_t>& i) {
  i.reset();
  if (seg.kind == PathSegment::Kind::Index) {
    i = seg.index;
  } else if (seg.kind == PathSegment::Kind::Ref) {
    Value v;
    if (!get(seg.ref, origin, v)) return false;
    if (v) i = as_int(*v);
  }
  return true;
}

bool Evaluator::walk(const json::value* at, std::span<const PathSegment> rest, const Names& origin,
                     Value& out) {
  std::deque<json::value> hold;
  for (const PathSegment& seg : rest) {
    if (at == nullptr) break;
    if (at->is_string()) {
      if (!charge(at->get_string().size())) return false;
      auto decoded = json_decode(at->get_string());
      if (!decoded) {
        at = nullptr;
        break;
      }
      hold.push_back(std::move(*decoded));
      at = &hold.back();
    }
    if (seg.kind == PathSegment::Kind::Key) {
      at = at->is_object() ? at->get_object().if_contains(seg.key) : nullptr;
    } else {
      std::optional<std::int64_t> i;
      if (!resolve_index(seg, origin, i)) return false;
      at = i && at->is_array() ? nth(at->get_array(), *i) : nullptr;
    }
  }
  if (at != nullptr) {
    if (!charge(approx_size(*at))) return false;
    out = *at;
  } else {
    out.reset();
  }
  return true;
}

bool Evaluator::payload_json(const json::value& payload, std::deque<json::value>& hold,
                             const json::value*& out) {
  if (!payload.is_string()) {
    out = &payload;
    return true;
  }
  const json::string& s = payload.get_string();
  const bool columns =
      columns_payload_ != nullptr && (&s == columns_payload_ || s == *columns_payload_);
  if (columns && payload_decoded_) {
    out = &payload_;
    return true;
  }
  if (!charge(s.size())) return false;
  if (columns && cache_ != nullptr && cache_->payload_tried) {
    // Another rule of this event read it already.
    if (!cache_->payload) return fail("decode_json_failed: the payload is not JSON");
    out = &*cache_->payload;
    return true;
  }
  auto decoded = json_decode(s);
  if (columns && cache_ != nullptr) {
    cache_->payload_tried = true;
    if (!decoded) return fail("decode_json_failed: the payload is not JSON");
    cache_->payload = std::move(*decoded);
    out = &*cache_->payload;
    return true;
  }
  if (!decoded) return fail("decode_json_failed: the payload is not JSON");
  if (columns) {
    payload_ = std::move(*decoded);
    payload_decoded_ = true;
    out = &payload_;
  } else {
    hold.push_back(std::move(*decoded));
    out = &hold.back();
  }
  return true;
}

bool Evaluator::get(const Path& path, const Names& names, Value& out) {
  bool present = false;
  const json::value* root = names.find(path[0].key, &present);
  const auto rest = std::span<const PathSegment>(path).subspan(1);
  if (!rest.empty() && path[0].key == "payload" && root != nullptr) {
    std::deque<json::value> hold;
    const json::value* p = nullptr;
    if (!payload_json(*root, hold, p)) return false;
    // An index read from a name inside `payload.x[i]` is read from the payload.
    Names origin;
    if (p->is_object()) origin = Names(p->get_object());
    return walk(p, rest, origin, out);
  }
  return walk(root, rest, names, out);
}

bool Evaluator::lookup(const Path& path, const Scope& scope, Value& out) {
  if (scope.selected != nullptr) {
    if (!get(path, Names(*scope.selected), out)) return false;
    if (out) return true;
  }
  return get(path, scope.merged, out);
}

bool Evaluator::put(Selected& sel, const Path& key, Value v) {
  const std::string& name = key[0].key;
  if (key.size() > 1 && name == "payload") {
    // Writing into the payload writes into it as JSON (EMQX's ensure_decoded_payload).
    if (json::value* p = sel.object.if_contains("payload"); p != nullptr && p->is_string()) {
      std::deque<json::value> hold;
      const json::value* decoded = nullptr;
      if (!payload_json(*p, hold, decoded)) return false;
      json::value copy = *decoded;
      *p = std::move(copy);
    }
  }
  // Nothing in the selected fields is deeper than kMaxValueDepth, and a put nests `v` at
  // most the key's length below the top (what it finds on the way through a string's
  // JSON is shallower): checking `v` keeps that true without walking the target.
  if ((v ? depth(*v) : 0) + key.size() > kMaxValueDepth) {
    return fail("a selected value is nested too deep");
  }
  auto& und = sel.undefined;
  und.erase(std::remove(und.begin(), und.end(), name), und.end());
  if (key.size() == 1) {
    if (v) {
      sel.object[name] = std::move(*v);
    } else {
      sel.object.erase(name);
      und.push_back(name);
    }
    return true;
  }
  // An index read from a name inside an alias (`AS c[i]`) is read from the selected fields.
  Names origin(sel.object);
  return put_in(sel.object[name], std::span<const PathSegment>(key).subspan(1), v, origin);
}

bool Evaluator::put_in(json::value& target, std::span<const PathSegment> segs, const Value& v,
                       const Names& origin) {
  if (!step()) return false;
  const PathSegment& seg = segs[0];
  const auto more = segs.subspan(1);
  const bool key = seg.kind == PathSegment::Kind::Key;
  if (key && target.is_object()) {
    json::object& obj = target.get_object();
    if (!more.empty()) return put_in(obj[seg.key], more, v, origin);
    if (v) {
      obj[seg.key] = *v;
    } else {
      obj.erase(seg.key);
    }
    return true;
  }
  std::optional<std::int64_t> i;
  if (!key && !resolve_index(seg, origin, i)) return false;
  if (!key && target.is_array()) {
    json::array& arr = target.get_array();
    json::value* slot = nullptr;
    if (seg.kind == PathSegment::Kind::Head) {
      slot = &*arr.emplace(arr.begin(), nullptr);
    } else if (seg.kind == PathSegment::Kind::Tail) {
      slot = &arr.emplace_back(nullptr);
    } else if (i) {
      slot = nth(arr, *i);
    }
    if (slot == nullptr) return true;  // past the end, or not an integer: nothing changes
    if (!more.empty()) return put_in(*slot, more, v, origin);
    *slot = v ? *v : json::value(nullptr);
    return true;
  }
  // In the way: what is below is found through a string's JSON, then the target is
  // replaced by a fresh object or one-element array.
  json::value sub;
  if (!more.empty() && target.is_string()) {
    if (!charge(target.get_string().size())) return false;
    if (auto decoded = json_decode(target.get_string())) {
      json::value* found = nullptr;
      if (key && decoded->is_object()) {
        found = decoded->get_object().if_contains(seg.key);
      } else if (!key && i && decoded->is_array()) {
        found = nth(decoded->get_array(), *i);
      }
      if (found != nullptr) sub = std::move(*found);
    }
  }
  if (!more.empty()) {
    if (!put_in(sub, more, v, origin)) return false;
  } else {
    sub = v ? *v : json::value(nullptr);
  }
  if (key) {
    json::object fresh;
    if (!more.empty() || v) fresh[seg.key] = std::move(sub);
    target = std::move(fresh);
  } else {
    json::array fresh;
    fresh.push_back(std::move(sub));
    target = std::move(fresh);
  }
  return true;
}

std::size_t approx_size(const json::value& v) {
  switch (v.kind()) {
    case json::kind::string:
      return kNodeCost + v.get_string().size();
    case json::kind::array: {
      std::size_t n = kNodeCost;
      for (const auto& e : v.get_array())
        n += approx_size(e);
      return n;
    }
    case json::kind::object:
      return approx_size(v.get_object());
    default:
      return kNodeCost;
  }
}

std::size_t approx_size(const json::object& o) {
  std::size_t n = kNodeCost;
  for (const auto& kv : o)
    n += kv.key().size() + approx_size(kv.value());
  return n;
}

}  // namespace emqxd::rules::detail
