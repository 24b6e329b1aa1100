// LwM2M payloads as JSON, and JSON items as TLV (content.hpp).
#include "gateways/lwm2m/content.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>
#include <cmath>

#include "auth/base64.hpp"
#include "gateways/lwm2m/tlv.hpp"

namespace emqxd::gateways::lwm2m {

namespace json = boost::json;

namespace {

std::uint16_t id_of(std::string_view s) {
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc() || p != s.data() + s.size() || v > 65534)
    throw ContentError("\"" + std::string(s) + "\" is not an id 0-65534");
  return static_cast<std::uint16_t>(v);
}

std::string type_of(const ObjectModel& model, const std::vector<std::uint16_t>& path) {
  if (path.size() < 3) return {};
  const auto* r = model.resource(path[0], path[2]);
  return r == nullptr ? std::string() : r->type;
}

// A TLV value of `type` as JSON. A resource the model does not know is shown as Opaque
// (base64): its octets are all the gateway has.
json::value tlv_json(const std::string& type, const std::string& v) {
  if (type == "String") return json::value(json::string(utf8_text(v)));
  if (type == "Unsigned Integer") {
    if (v.empty() || v.size() > 8)
      throw ContentError("Unsigned Integer value of " + std::to_string(v.size()) + " octets");
    std::uint64_t u = 0;
    for (char ch : v)
      u = u << 8 | static_cast<std::uint8_t>(ch);
    return json::value(u);
  }
  if (type == "Corelnk") return json::value(json::string(utf8_text(v)));
  if (type == "Integer" || type == "Time") {
    auto n = integer_of(v);
    if (!n) throw ContentError(type + " value of " + std::to_string(v.size()) + " octets");
    return json::value(*n);
  }
  if (type == "Float") {
    auto d = float_of(v);
    if (!d) throw ContentError("Float value of " + std::to_string(v.size()) + " octets");
    return json::value(*d);
  }
  if (type == "Boolean") {
    if (v.size() != 1 || static_cast<std::uint8_t>(v[0]) > 1)
      throw ContentError("Boolean value is not one octet 0 or 1");
    return json::value(v[0] == 1);
  }
  if (type == "Objlnk") {
    if (v.size() != 4) throw ContentError("Objlnk value is not 4 octets");
    const auto a = static_cast<std::uint8_t>(v[0]) << 8 | static_cast<std::uint8_t>(v[1]);
    const auto b = static_cast<std::uint8_t>(v[2]) << 8 | static_cast<std::uint8_t>(v[3]);
    return json::value(json::string(std::to_string(a) + ":" + std::to_string(b)));
  }
  return json::value(json::string(auth::base64(v)));
}

json::value number_text(std::string_view t) {
  std::int64_t i = 0;
  auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), i);
  if (!t.empty() && ec == std::errc() && p == t.data() + t.size()) return json::value(i);
  double d = 0;
  auto [q, ec2] = std::from_chars(t.data(), t.data() + t.size(), d);
  if (!t.empty() && ec2 == std::errc() && q == t.data() + t.size() && std::isfinite(d))
    return json::value(d);
  throw ContentError("\"" + std::string(t.substr(0, 64)) + "\" is not a number");
}

// A text/plain value (TS 1.0, 6.4.1) of `type` as JSON.
json::value text_json(const std::string& type, std::string_view t) {
  if (type == "Integer" || type == "Time" || type == "Float" || type == "Unsigned Integer")
    return number_text(t);
  if (type == "Boolean") {
    if (t == "1" || t == "true") return json::value(true);
    if (t == "0" || t == "false") return json::value(false);
    throw ContentError("Boolean text is not 0 or 1");
  }
  if (type == "Opaque") return json::value(json::string(auth::base64(t)));
  return json::value(json::string(utf8_text(t)));
}

json::object item(const std::vector<std::uint16_t>& path, json::value v) {
  json::object o;
  o["path"] = path_text(path);
  o["value"] = std::move(v);
  return o;
}

// The depth of a TLV node of `kind`: 2 an instance, 3 a resource, 4 a resource instance.
std::size_t depth_of(Tlv::Kind k) {
  switch (k) {
    case Tlv::Kind::ObjectInstance:
      return 2;
    case Tlv::Kind::Resource:
    case Tlv::Kind::MultipleResource:
      return 3;
    case Tlv::Kind::ResourceInstance:
      return 4;
  }
  return 3;
}

// What one answer may hold (a TLV of empty resources is 2 octets an item).
constexpr std::size_t kMaxItems = 4096;

void tlv_items(const Tlv& t, std::vector<std::uint16_t> prefix, const ObjectModel& model,
               json::array& out) {
  if (out.size() >= kMaxItems) throw ContentError("too many values in one answer");
  const std::size_t depth = depth_of(t.kind);
  if (prefix.size() < depth - 1) throw ContentError("TLV names no instance for its resources");
  prefix.resize(depth - 1);
  prefix.push_back(t.id);
  if (t.kind == Tlv::Kind::ObjectInstance || t.kind == Tlv::Kind::MultipleResource) {
    for (const auto& c : t.children)
      tlv_items(c, prefix, model, out);
    return;
  }
  out.push_back(item(prefix, tlv_json(type_of(model, prefix), t.value)));
}

// "/3/0/" + "1" -> {3, 0, 1}; a name may be absent, or be the whole path.
std::vector<std::uint16_t> joined(std::string_view base, std::string_view name) {
  std::string p(base);
  if (!p.empty() && p.back() != '/' && !name.empty() && name.front() != '/') p += '/';
  p += name;
  return parse_path(p);
}

const json::value* field(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  return it == o.end() ? nullptr : &it->value();
}

json::array json_content(std::string_view payload, bool senml) {
  json::value doc;
  try {
    doc = json::parse(payload);
  } catch (const std::exception&) {
    throw ContentError("the payload is not JSON");
  }
  json::array out;
  if (!senml) {
    // LwM2M JSON (TS 1.0, 6.4.4): {"bn": "/3/0/", "e": [{"n": "0", "sv": ...}, ...]}
    if (!doc.is_object()) throw ContentError("LwM2M JSON is not an object");
    const auto& o = doc.as_object();
    std::string bn;
    if (const auto* b = field(o, "bn"); b != nullptr && b->is_string()) bn = b->as_string();
    const auto* e = field(o, "e");
    if (e == nullptr || !e->is_array()) throw ContentError("LwM2M JSON has no \"e\" array");
    for (const auto& el : e->as_array()) {
      if (!el.is_object()) throw ContentError("an LwM2M JSON entry is not an object");
      const auto& r = el.as_object();
      std::string n;
      if (const auto* nv = field(r, "n"); nv != nullptr && nv->is_string()) n = nv->as_string();
      json::value v;
      for (const char* k : {"v", "sv", "bv", "ov"}) {
        if (const auto* f = field(r, k)) v = *f;
      }
      out.push_back(item(joined(bn, n), std::move(v)));
    }
    return out;
  }
  // SenML JSON (RFC 8428; LwM2M 1.1, 7.4.4): records; a base name carries on.
  if (!doc.is_array()) throw ContentError("SenML JSON is not an array");
  std::string bn;
  for (const auto& el : doc.as_array()) {
    if (!el.is_object()) throw ContentError("a SenML record is not an object");
    const auto& r = el.as_object();
    if (const auto* b = field(r, "bn"); b != nullptr && b->is_string()) bn = b->as_string();
    std::string n;
    if (const auto* nv = field(r, "n"); nv != nullptr && nv->is_string()) n = nv->as_string();
    json::value v;
    for (const char* k : {"v", "vs", "vb", "vd", "vlo"}) {
      if (const auto* f = field(r, k)) v = *f;
    }
    out.push_back(item(joined(bn, n), std::move(v)));
  }
  return out;
}

}  // namespace

std::string utf8_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<std::uint8_t>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0, min = 0;
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    if ((c & 0xE0) == 0xC0) {
      n = 1, cp = c & 0x1F, min = 0x80;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2, cp = c & 0x0F, min = 0x800;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3, cp = c & 0x07, min = 0x10000;
    }
    bool ok = n > 0 && i + n < s.size();  // the sequence's last octet is in `s`
    if (ok) {
      for (std::size_t k = 1; k <= n; ++k) {
        const auto cc = static_cast<std::uint8_t>(s[i + k]);
        if ((cc & 0xC0) != 0x80) {
          ok = false;
          break;
        }
        cp = cp << 6 | (cc & 0x3F);
      }
    }
    ok = ok && cp >= min && cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF);
    if (ok) {
      out.append(s.substr(i, n + 1));
      i += n + 1;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  return out;
}

std::vector<std::uint16_t> parse_path(std::string_view path) {
  std::vector<std::uint16_t> ids;
  while (!path.empty() && path.front() == '/')
    path.remove_prefix(1);
  while (!path.empty() && path.back() == '/')
    path.remove_suffix(1);
  if (path.empty()) throw ContentError("the path names no object");
  while (!path.empty()) {
    const auto slash = path.find('/');
    ids.push_back(id_of(path.substr(0, slash)));
    if (ids.size() > 4) throw ContentError("a path has at most four ids");
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return ids;
}

std::string path_text(const std::vector<std::uint16_t>& ids) {
  std::string out;
  for (auto id : ids)
    out += "/" + std::to_string(id);
  return out.empty() ? "/" : out;
}

json::array content_to_json(std::string_view payload, std::uint16_t format,
                            const std::vector<std::uint16_t>& path, const ObjectModel& model) {
  json::array out;
  switch (format) {
    case kTextPlain:
      if (path.size() < 3) throw ContentError("text/plain answers a resource only");
      out.push_back(item(path, text_json(type_of(model, path), payload)));
      return out;
    case kOctetStream:
      if (path.size() < 3) throw ContentError("an opaque value answers a resource only");
      out.push_back(item(path, json::value(json::string(auth::base64(payload)))));
      return out;
    case kTlv: {
      auto tlv = decode_tlv(payload);
      if (!tlv) throw ContentError("the TLV does not parse");
      for (const auto& t : *tlv)
        tlv_items(t, path, model, out);
      return out;
    }
    case kLwm2mJson:
      return json_content(payload, false);
    case kSenmlJson:
      return json_content(payload, true);
    case kLinkFormat: {
      std::string_view rest = payload;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        out.push_back(json::value(json::string(utf8_text(rest.substr(0, comma)))));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      return out;
    }
    default:
      throw ContentError("content format " + std::to_string(format) + " is not read");
  }
}

std::string tlv_value(const std::string& type, const json::value& v) {
  auto as_int = [&]() -> std::int64_t {
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64() && v.as_uint64() <= INT64_MAX)
      return static_cast<std::int64_t>(v.as_uint64());
    if (v.is_double() && std::floor(v.as_double()) == v.as_double() &&
        std::fabs(v.as_double()) < 9.2e18)
      return static_cast<std::int64_t>(v.as_double());
    if (v.is_string()) {
      const auto& s = v.as_string();
      std::int64_t n = 0;
      auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
      if (!s.empty() && ec == std::errc() && p == s.data() + s.size()) return n;
    }
    throw ContentError(type + " value is not an integer");
  };
  if (type == "Integer" || type == "Time") return tlv_integer(as_int());
  if (type == "Unsigned Integer") {
    if (v.is_uint64()) {
      std::string out;
      for (std::uint64_t u = v.as_uint64(); u != 0 || out.empty(); u >>= 8)
        out.insert(out.begin(), static_cast<char>(u & 0xFF));
      return out;
    }
    const auto n = as_int();
    if (n < 0) throw ContentError("Unsigned Integer value is negative");
    std::string out;
    for (auto u = static_cast<std::uint64_t>(n); u != 0 || out.empty(); u >>= 8)
      out.insert(out.begin(), static_cast<char>(u & 0xFF));
    return out;
  }
  if (type == "Corelnk") {
    if (!v.is_string()) throw ContentError("Corelnk value is not a string");
    return std::string(v.as_string());
  }
  if (type == "Float") {
    if (v.is_number()) return tlv_float(v.to_number<double>());
    if (v.is_string()) {
      auto n = number_text(v.as_string());
      return tlv_float(n.to_number<double>());
    }
    throw ContentError("Float value is not a number");
  }
  if (type == "Boolean") {
    if (v.is_bool()) return std::string(1, v.as_bool() ? '\1' : '\0');
    if (v.is_string() && (v.as_string() == "true" || v.as_string() == "false"))
      return std::string(1, v.as_string() == "true" ? '\1' : '\0');
    if (v.is_int64() && (v.as_int64() == 0 || v.as_int64() == 1))
      return std::string(1, static_cast<char>(v.as_int64()));
    throw ContentError("Boolean value is not true or false");
  }
  if (type == "String") {
    if (v.is_string()) return std::string(v.as_string());
    if (v.is_number() || v.is_bool()) return json::serialize(v);
    throw ContentError("String value is not a string");
  }
  if (type == "Opaque") {
    if (!v.is_string()) throw ContentError("Opaque value is not a base64 string");
    auto raw = auth::unbase64(v.as_string());
    if (!raw) throw ContentError("Opaque value is not base64");
    return *raw;
  }
  if (type == "Objlnk") {
    if (!v.is_string()) throw ContentError("Objlnk value is not \"object:instance\"");
    const std::string_view s = v.as_string();
    const auto colon = s.find(':');
    if (colon == std::string_view::npos)
      throw ContentError("Objlnk value is not \"object:instance\"");
    // 65535:65535 is the null link (TS 1.0 Appendix C).
    auto part = [](std::string_view p) { return p == "65535" ? std::uint16_t{0xFFFF} : id_of(p); };
    const auto a = part(s.substr(0, colon));
    const auto b = part(s.substr(colon + 1));
    return std::string{static_cast<char>(a >> 8), static_cast<char>(a & 0xFF),
                       static_cast<char>(b >> 8), static_cast<char>(b & 0xFF)};
  }
  throw ContentError("unknown type \"" + type +
                     "\" (String, Integer, Unsigned Integer, Float, Boolean, Opaque, Time, "
                     "Objlnk, Corelnk)");
}

std::string items_to_tlv(const std::vector<std::uint16_t>& base, const json::array& items) {
  if (base.empty() || base.size() > 4) throw ContentError("the path names no object");
  if (items.empty()) throw ContentError("nothing to write");
  // Every item as a full relative path below `base` and its TLV octets.
  struct Leaf {
    std::vector<std::uint16_t> rel;
    std::string value;
  };
  std::vector<Leaf> leaves;
  for (const auto& el : items) {
    if (!el.is_object()) throw ContentError("an item is not an object {path, type, value}");
    const auto& o = el.as_object();
    const auto* t = field(o, "type");
    const auto* v = field(o, "value");
    if (t == nullptr || !t->is_string()) throw ContentError("an item has no \"type\"");
    if (v == nullptr) throw ContentError("an item has no \"value\"");
    std::vector<std::uint16_t> rel;
    if (const auto* p = field(o, "path"); p != nullptr && p->is_string()) {
      std::string_view ps = p->as_string();
      // A full path below base, or relative to it.
      auto ids = parse_path(ps);
      if (ps.starts_with('/') && ids.size() > base.size() &&
          std::equal(base.begin(), base.end(), ids.begin())) {
        rel.assign(ids.begin() + static_cast<std::ptrdiff_t>(base.size()), ids.end());
      } else if (ps.starts_with('/') && ids == base) {
        rel.clear();
      } else {
        rel = ids;
      }
    }
    if (base.size() + rel.size() > 4) throw ContentError("an item's path is too deep");
    leaves.push_back({std::move(rel), tlv_value(std::string(t->as_string()), *v)});
  }
  // Build the tree: the depth of a leaf is base.size() + rel.size() (3: a resource, 4: a
  // resource instance; an object's items without an instance are resources).
  std::vector<Tlv> top;
  auto child = [](std::vector<Tlv>& in, Tlv::Kind kind, std::uint16_t id) -> Tlv& {
    for (auto& t : in) {
      if (t.kind == kind && t.id == id) return t;
    }
    in.push_back(Tlv{kind, id, {}, {}});
    return in.back();
  };
  for (auto& leaf : leaves) {
    std::vector<std::uint16_t> full(base.begin(), base.end());
    full.insert(full.end(), leaf.rel.begin(), leaf.rel.end());
    if (base.size() == 1 && leaf.rel.size() == 1) {
      // Create on an object with bare resources: the client picks the instance.
      top.push_back(Tlv{Tlv::Kind::Resource, leaf.rel[0], std::move(leaf.value), {}});
      continue;
    }
    if (full.size() < 3) throw ContentError("an item names no resource");
    std::vector<Tlv>* level = &top;
    if (base.size() == 1) level = &child(top, Tlv::Kind::ObjectInstance, full[1]).children;
    if (full.size() == 3) {
      level->push_back(Tlv{Tlv::Kind::Resource, full[2], std::move(leaf.value), {}});
    } else {
      auto& multi = child(*level, Tlv::Kind::MultipleResource, full[2]);
      multi.children.push_back(
          Tlv{Tlv::Kind::ResourceInstance, full[3], std::move(leaf.value), {}});
    }
  }
  std::string out;
  encode_tlv(top, out);
  return out;
}

}  // namespace emqxd::gateways::lwm2m
