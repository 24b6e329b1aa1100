// The readers of config/schema.hpp: a HOCON value -> a typed field, or ConfigError naming
// the file, line and key with what is wrong.
#include <algorithm>
#include <cctype>
#include <limits>

#include "cluster/node_address.hpp"
#include "config/schema.hpp"

namespace emqxd::config::detail {

namespace {
constexpr std::int64_t kU32Max = std::numeric_limits<std::uint32_t>::max();
}  // namespace

std::string shown(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::String: {
      std::string s = v.text().size() > 60 ? v.text().substr(0, 57) + "..." : v.text();
      return "\"" + s + "\"";
    }
    case Value::Kind::Array:
      return "an array";
    case Value::Kind::Object:
      return "an object";
    default:
      return v.text();
  }
}

[[noreturn]] void fail(const Value& v, const std::string& key, const std::string& what) {
  throw ConfigError(v.origin().to_string() + ": " + key + ": " + what);
}

bool get_bool(const Value& v, const std::string& key) {
  if (auto b = v.to_bool()) return *b;
  fail(v, key, "expected true or false, got " + shown(v));
}

std::int64_t get_int(const Value& v, const std::string& key, std::int64_t lo, std::int64_t hi) {
  auto n = v.to_int();
  if (!n) fail(v, key, "expected an integer, got " + shown(v));
  if (*n < lo || *n > hi) {
    fail(v, key,
         "must be between " + std::to_string(lo) + " and " + std::to_string(hi) + ", got " +
             shown(v));
  }
  return *n;
}

// An integer, or "infinity" for 0 (the Config convention for "no limit").
std::uint32_t get_limit(const Value& v, const std::string& key) {
  if (v.is_string() && v.text() == "infinity") return 0;
  if (!v.to_int()) fail(v, key, "expected an integer or infinity, got " + shown(v));
  return static_cast<std::uint32_t>(get_int(v, key, 0, kU32Max));
}

std::string get_string(const Value& v, const std::string& key) {
  if (v.is_string() || v.is_number()) return v.text();
  fail(v, key, "expected a string, got " + shown(v));
}

std::string get_enum(const Value& v, const std::string& key,
                     std::initializer_list<std::string_view> allowed) {
  std::string s = get_string(v, key);
  for (std::string_view a : allowed) {
    if (s == a) return s;
  }
  std::string list;
  std::size_t i = 0;
  for (std::string_view a : allowed) {
    list += (i == 0 ? "" : (i + 1 == allowed.size() ? " or " : ", "));
    list += a;
    ++i;
  }
  fail(v, key, "must be " + list + ", got " + shown(v));
}

// 1500 ms -> "1500ms", 2000 ms -> "2s", 86400000 ms -> "24h": for messages.
std::string duration_text(Duration d) {
  auto ms = d.count();
  if (ms != 0 && ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms != 0 && ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

// A number is milliseconds; a string is "30s", "5m", "1h30m", ...
Duration get_duration(const Value& v, const std::string& key) {
  if (v.is_number()) {
    auto n = v.to_int();
    if (n && *n >= 0) return Duration(*n);
  } else if (v.is_string()) {
    if (auto d = parse_duration(v.text())) return *d;
  }
  fail(v, key, "expected a duration such as 30s, 5m, 1h or 500ms, got " + shown(v));
}

// A duration, or `word` (disabled, infinity) for 0.
Duration get_duration_or(const Value& v, const std::string& key, std::string_view word) {
  if (v.is_string() && v.text() == word) return Duration::zero();
  if (v.is_string() && !parse_duration(v.text())) {
    fail(
        v, key,
        "expected a duration such as 30s, 5m or 1h, or " + std::string(word) + ", got " + shown(v));
  }
  return get_duration(v, key);
}

std::uint64_t get_size(const Value& v, const std::string& key, std::uint64_t lo, std::uint64_t hi,
                       std::string_view hi_text) {
  std::optional<std::uint64_t> n;
  if (v.is_number()) {
    if (auto i = v.to_int(); i && *i >= 0) n = static_cast<std::uint64_t>(*i);
  } else if (v.is_string()) {
    n = parse_size(v.text());
  }
  if (!n) fail(v, key, "expected a size such as 1MB, 64KB or 1024, got " + shown(v));
  if (*n < lo || *n > hi) {
    fail(v, key,
         "must be between " + std::to_string(lo) + " and " + std::string(hi_text) + ", got " +
             shown(v));
  }
  return *n;
}

// A duration within [lo, hi].
Duration get_duration_in(const Value& v, const std::string& key, Duration lo, Duration hi) {
  Duration d = get_duration(v, key);
  if (d < lo || d > hi) {
    fail(
        v, key,
        "must be between " + duration_text(lo) + " and " + duration_text(hi) + ", got " + shown(v));
  }
  return d;
}

// "0.0.0.0:1883", ":1883", "1883" or 1883 -> "HOST:PORT"; IPv6 hosts in brackets.
std::string get_bind(const Value& v, const std::string& key) {
  auto bad = [&]() {
    fail(v, key, "expected HOST:PORT, :PORT or PORT such as \"0.0.0.0:1883\", got " + shown(v));
  };
  if (!v.is_string() && !v.is_number()) bad();
  const std::string& s = v.text();
  std::string host = "0.0.0.0";
  std::string port = s;
  if (auto colon = s.rfind(':'); colon != std::string::npos) {
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.empty()) host = "0.0.0.0";
    bool bracketed = host.size() > 2 && host.front() == '[' && host.back() == ']';
    if (!bracketed && host.find_first_of(":[]") != std::string::npos) bad();
  }
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/') bad();
  }
  if (port.empty() || port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    bad();
  }
  int p = std::stoi(port);
  if (p > 65535) fail(v, key, "port must be between 0 and 65535, got " + shown(v));
  return host + ":" + std::to_string(p);
}

// An array of node addresses, or one string of them separated by commas (handy in an
// environment variable); each checked by the cluster's parser and written in full.
std::vector<std::string> get_seeds(const Value& v, const std::string& key) {
  std::vector<std::pair<std::string, const Value*>> items;
  if (v.is_array()) {
    for (const Value& e : v.elements())
      items.emplace_back(get_string(e, key), &e);
  } else if (v.is_string()) {
    std::string_view rest = v.text();
    while (!rest.empty()) {
      auto comma = rest.find(',');
      std::string_view item = rest.substr(0, comma);
      rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) {
        item.remove_prefix(1);
      }
      while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) {
        item.remove_suffix(1);
      }
      if (!item.empty()) items.emplace_back(std::string(item), &v);
    }
  } else {
    fail(v, key,
         "expected an array of nodes such as [\"emqx@10.0.0.1\", \"emqx@10.0.0.2:4371\"], got " +
             shown(v));
  }
  std::vector<std::string> seeds;
  for (const auto& [text, where] : items) {
    std::string why;
    auto address = cluster::NodeAddress::parse(text, &why);
    if (!address) {
      fail(*where, key, "\"" + text + "\" is not a node (name@host or name@host:port): " + why);
    }
    std::string full = address->to_string();
    if (std::find(seeds.begin(), seeds.end(), full) == seeds.end()) seeds.push_back(full);
  }
  return seeds;
}

}  // namespace emqxd::config::detail
