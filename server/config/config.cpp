// Config loading: HOCON file -> EMQX_* environment overrides -> substitutions -> the typed
// Config. The walk follows the key table (keys.cpp): each key it meets is applied, named
// with FILE:LINE when its value is wrong. As in EMQX, a key nobody knows stops start-up;
// so does a key of an EMQX feature emqxd has not built ("not implemented yet by emqxd"),
// so that an operator who migrates an EMQX config never believes something is on when it
// is not. Only EMQX's Erlang VM tuning is warned about and ignored.
#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <map>
#include <tuple>
#include <utility>

#include "config/hocon.hpp"
#include "config/schema.hpp"

extern char** environ;  // NOLINT: POSIX

namespace emqxd::config {
namespace {

using detail::duration_text;
using detail::fail;
using detail::In;
using detail::key_table;
using detail::KeySpec;
using detail::ListenerDraft;
using detail::LoadState;
using detail::relate;
using detail::Relation;
using detail::Shape;
using detail::shown;
using hocon::Value;

const detail::ForeignKey* find_foreign(std::span<const detail::ForeignKey> list,
                                       std::span<const std::string> parts) {
  for (const auto& k : list) {
    Relation r = relate(k.path, parts);
    if (r == Relation::Exact || r == Relation::Below) return &k;
  }
  return nullptr;
}

// Edit distance, for "did you mean": small words only.
std::size_t distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) {
    row[j] = j;
  }
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// " (did you mean max_inflight?)" when the last part of `parts` is a near miss of a key the
// table has in the same place.
std::string suggestion(std::span<const std::string> parts) {
  const std::string& last = parts.back();
  auto parent = parts.first(parts.size() - 1);
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(1, last.size() / 3) + 1;  // or less
  for (const KeySpec& k : key_table()) {
    if (relate(k.path, parent) != Relation::Above) continue;
    // The pattern's segment at this depth.
    std::string_view rest = k.path;
    for (std::size_t i = 0; i < parent.size(); ++i) {
      rest = rest.substr(rest.find('.') + 1);
    }
    std::string_view segment = rest.substr(0, rest.find('.'));
    while (!segment.empty()) {
      auto bar = segment.find('|');
      std::string_view word = segment.substr(0, bar);
      if (word != "*") {
        std::size_t d = distance(last, word);
        if (d < best_distance) {
          best_distance = d;
          best = word;
        }
      }
      segment = bar == std::string_view::npos ? std::string_view{} : segment.substr(bar + 1);
    }
  }
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

// ----------------------------------------------------------------------------- the walk

// Every entry of the table whose path starts with `root`'s name has that root.
bool is_mapped_root(std::string_view root) {
  for (const KeySpec& k : key_table()) {
    if (k.path.substr(0, k.path.find('.')) == root) return true;
  }
  return false;
}

// A root of EMQX's config that emqxd reads or knows it does not (yet).
bool is_known_root(std::string_view root) {
  if (is_mapped_root(root)) return true;
  for (auto list : {detail::not_implemented_keys(), detail::inert_keys()}) {
    for (const auto& k : list) {
      if (k.path.substr(0, k.path.find('.')) == root) return true;
    }
  }
  return false;
}

class Walker {
 public:
  explicit Walker(LoadState& s) : s_(s) {}

  void walk_root(const Value& root) {
    std::vector<std::string> parts;
    walk(root, parts, "");
  }

 private:
  LoadState& s_;

  void walk(const Value& obj, std::vector<std::string>& parts, const std::string& key) {
    for (const auto& f : obj.fields()) {
      parts.push_back(f.key);
      visit(f.value, parts, key.empty() ? f.key : key + "." + f.key);
      parts.pop_back();
    }
  }

  void visit(const Value& v, std::vector<std::string>& parts, const std::string& key) {
    const KeySpec* exact = nullptr;
    bool above = false;
    for (const KeySpec& k : key_table()) {
      Relation r = relate(k.path, parts);
      if (r == Relation::Exact) exact = &k;
      if (r == Relation::Above) above = true;
    }
    if (exact != nullptr) {
      exact->apply(In{s_, v, key, parts});
      if (exact->shape == Shape::Section && v.is_object()) walk(v, parts, key);
      return;
    }
    if (above) {
      if (!v.is_object()) fail(v, key, "expected an object, got " + shown(v));
      walk(v, parts, key);
      return;
    }
    unknown(v, parts, key);
  }

  // EMQX refuses to start on a key it does not know, and so do we; a key of an EMQX
  // feature we have not built must not let anyone believe the feature is on.
  void unknown(const Value& v, std::span<const std::string> parts, const std::string& key) {
    auto with_note = [](const std::string& what, const detail::ForeignKey& k) {
      return k.note.empty() ? what : what + " (" + std::string(k.note) + ")";
    };
    if (const auto* k = find_foreign(detail::not_implemented_keys(), parts)) {
      fail(v, key, with_note("not implemented yet by emqxd", *k));
    }
    if (find_foreign(detail::inert_keys(), parts) != nullptr) {
      s_.cfg.warnings.push_back(v.origin().to_string() + ": " + key +
                                ": an Erlang VM setting of EMQX, no meaning in emqxd: ignored");
      return;
    }
    fail(v, key, "unknown key" + suggestion(parts));
  }
};

// ----------------------------------------------------------------------------- after the walk

void claim_bind(std::vector<std::pair<std::string, std::string>>& binds, const std::string& bind,
                const Value& where, const std::string& owner) {
  if (bind.ends_with(":0")) return;  // any free port
  for (const auto& [b, other] : binds) {
    if (b == bind) fail(where, owner + ".bind", bind + " is already used by " + other);
  }
  binds.emplace_back(bind, owner);
}

// Whether a bind address HOST:PORT is reachable from this host only.
bool loopback_bind(const std::string& bind) {
  std::string host = bind.substr(0, bind.rfind(':'));
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host.starts_with("127.") || host == "::1";
}

// Checks and settings that involve several keys, once all of them are read.
void finish(LoadState& s, const Value& root) {
  // An action's connector must be one of the file's, of the action's type.
  for (const auto& a : s.cfg.actions) {
    bool found = false;
    for (const auto& c : s.cfg.connectors)
      found = found || (c.type == a.type && c.name == a.connector);
    if (!found) {
      const Value* where = root.find("actions");
      fail(where != nullptr ? *where : root, "actions." + a.type + "." + a.name + ".connector",
           "no connector " + a.type + "." + a.connector + " in the config");
    }
  }
  Config& c = s.cfg;
  // EMQX: "Disabled when setting bind to 0".
  if (c.dashboard_http_bind.ends_with(":0")) c.dashboard_http_enable = false;

  ClusterConfig& cl = c.cluster;
  // The indirect probes need time left in the period after the direct one timed out.
  if (cl.probe_timeout >= cl.probe_interval) {
    const Value& where = s.probe_timeout != nullptr    ? *s.probe_timeout
                         : s.probe_interval != nullptr ? *s.probe_interval
                         : s.cluster != nullptr        ? *s.cluster
                                                       : root;
    fail(where, "cluster.probe_timeout",
         "must be shorter than cluster.probe_interval (" + duration_text(cl.probe_interval) +
             "), got " + duration_text(cl.probe_timeout));
  }
  if (cl.rpc_ssl.enable) {
    const Value& where = s.rpc_ssl != nullptr ? *s.rpc_ssl : root;
    const std::string sk = "cluster.rpc.ssl";
    if (cl.rpc_ssl.certfile.empty())
      fail(where, sk + ".certfile", "required when ssl.enable = true");
    if (cl.rpc_ssl.keyfile.empty()) fail(where, sk + ".keyfile", "required when ssl.enable = true");
    if (cl.rpc_ssl.verify == "verify_peer" && cl.rpc_ssl.cacertfile.empty()) {
      fail(where, sk + ".cacertfile",
           "required with verify = verify_peer: the CA that signed the nodes' certificates");
    }
  }
  // The cluster's secret (cluster/auth.hpp): without one, the cluster port stays on
  // loopback, where nothing off this host reaches it (README.md, "Security model").
  const bool has_cookie = !c.node.cookie.empty();
  if (s.rpc_bind == nullptr) cl.rpc_bind = has_cookie ? "0.0.0.0:4370" : "127.0.0.1:4370";
  const bool verified_tls = cl.rpc_ssl.enable && cl.rpc_ssl.verify == "verify_peer";
  if (!has_cookie && !verified_tls && !loopback_bind(cl.rpc_bind)) {
    fail(*s.rpc_bind, "cluster.rpc.bind",
         cl.rpc_bind +
             " is reachable from other hosts, and no node.cookie is set: any process that "
             "reaches it could join the cluster. Set node.cookie (the same secret on every "
             "node), or bind 127.0.0.1, or use cluster.rpc.ssl with verify = verify_peer");
  }
  if (c.node.cookie == "emqxsecretcookie" && s.cookie != nullptr) {
    c.warnings.push_back(s.cookie->origin().to_string() +
                         ": node.cookie is EMQX's published default; anyone can join a cluster "
                         "that uses it: choose a secret of your own");
  }
  if (cl.discovery_strategy == "dns" && cl.dns_name.empty()) {
    fail(s.discovery_strategy != nullptr ? *s.discovery_strategy : root,
         "cluster.discovery_strategy",
         "dns needs cluster.dns.name, the name whose records list the nodes");
  }
  if (cl.discovery_strategy == "etcd" && cl.etcd_servers.empty()) {
    fail(s.discovery_strategy != nullptr ? *s.discovery_strategy : root,
         "cluster.discovery_strategy",
         "etcd needs cluster.etcd.server, the etcd cluster's client URLs (http://host:2379)");
  }
  if (cl.discovery_strategy == "static" && cl.static_seeds.empty() &&
      s.discovery_strategy != nullptr) {
    c.warnings.push_back(s.discovery_strategy->origin().to_string() +
                         ": cluster.discovery_strategy is static but cluster.static.seeds is "
                         "empty: this node joins nobody");
  }

  // Ports: the dashboard and the cluster RPC claim theirs first, so a clash names the
  // listener the user wrote.
  std::vector<std::pair<std::string, std::string>> binds;  // bind -> the key that holds it
  if (c.dashboard_http_enable) {
    claim_bind(binds, c.dashboard_http_bind, s.dashboard != nullptr ? *s.dashboard : root,
               "dashboard.listeners.http");
  }
  claim_bind(binds, cl.rpc_bind, s.rpc_bind != nullptr ? *s.rpc_bind : root, "cluster.rpc");
  std::vector<std::pair<std::string, std::string>> udp_binds;  // gateways' datagram ports
  std::map<std::string, bool> gateway_listeners_named;         // by gateway
  for (ListenerDraft& d : s.listeners) {
    if (!d.gateway.empty()) gateway_listeners_named[d.gateway] = true;
    if (!d.config.enable) continue;
    if (d.gateway == "mqttsn" || d.gateway == "coap" || d.gateway == "lwm2m") {
      claim_bind(udp_binds, d.config.bind, *d.where, d.key);
      (d.gateway == "coap"    ? c.gateway_coap.common
       : d.gateway == "lwm2m" ? c.gateway_lwm2m.common
                              : c.gateway_mqttsn.common)
          .listeners.push_back(std::move(d.config));
      continue;
    }
    claim_bind(binds, d.config.bind, *d.where, d.key);
    if (d.gateway == "stomp") {
      c.gateway_stomp.common.listeners.push_back(std::move(d.config));
      continue;
    }
    c.listeners.push_back(std::move(d.config));
  }
  if (const auto& l = c.gateway_lwm2m; l.common.configured && l.lifetime_min > l.lifetime_max) {
    fail(root, "gateway.lwm2m.lifetime_min", "is more than gateway.lwm2m.lifetime_max");
  }
  for (const auto& b : c.bridges_nng) {
    if (!b.enable) continue;
    const std::string key = "bridges.nng." + b.kind + "." + b.name;
    if (b.url.empty()) fail(root, key + "." + b.kind + "_url", "required");
    if (b.url.starts_with("tcp://") && !b.allow_remote) {
      // tcp://host:port: only a loopback host keeps it to this machine.
      std::string host = b.url.substr(6, b.url.rfind(':') - 6);
      if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
      if (!host.starts_with("127.") && host != "localhost" && host != "::1") {
        fail(root, key + "." + b.kind + "_url",
             b.url +
                 " is reachable from other hosts, and NNG has no credentials: listen on "
                 "127.0.0.1 or ipc://, or set " +
                 key + ".allow_remote = true");
      }
    }
    if (b.kind != "rep" && b.topics.empty())
      fail(root, key + (b.kind == "pub" ? ".forwards" : ".subscription"), "required");
    if (b.kind == "rep" && (b.request_topic.empty() || b.response_topic.empty()))
      fail(root, key + (b.request_topic.empty() ? ".request_topic" : ".response_topic"),
           "required");
    for (const auto& other : c.bridges_nng) {
      if (&other == &b) break;
      if (other.enable && other.url == b.url)
        fail(root, key + "." + b.kind + "_url",
             b.url + " is already used by bridges.nng." + other.kind + "." + other.name);
    }
  }
  if (const auto& z = c.gateway_zmq; z.configured && z.enable) {
    if (z.sub_address.empty() && z.pub_address.empty()) {
      fail(root, "gateway.zmq", "needs sub_address, pub_address or both");
    }
    if (!z.sub_address.empty() && z.forward.empty()) {
      fail(root, "gateway.zmq.forward",
           "required with sub_address: the MQTT topic ZeroMQ's messages are published to");
    }
    if (!z.pub_address.empty() && z.sub_topic.empty()) {
      fail(root, "gateway.zmq.sub_topic",
           "required with pub_address: the MQTT filter whose messages go to ZeroMQ");
    }
  }
  // EMQX's defaults: gateway.mqttsn.listeners.udp.default on 1884,
  // gateway.stomp.listeners.tcp.default on 61613, gateway.coap.listeners.udp.default on 5683,
  // gateway.lwm2m.listeners.udp.default on 5783.
  for (auto [gw, name, type] : {std::tuple{&c.gateway_mqttsn.common, "mqttsn", "udp"},
                                std::tuple{&c.gateway_stomp.common, "stomp", "tcp"},
                                std::tuple{&c.gateway_coap.common, "coap", "udp"},
                                std::tuple{&c.gateway_lwm2m.common, "lwm2m", "udp"}}) {
    if (!gw->configured || gateway_listeners_named[name]) continue;
    ListenerConfig l;
    l.type = type;
    l.name = "default";
    l.bind = detail::default_gateway_bind(name);
    gw->listeners.push_back(std::move(l));
  }
  if (!s.listeners_named) {
    // The embedded defaults (README.md, "Running"): MQTT/TCP on 1883 and MQTT/WebSocket on 8083.
    // Naming any listener (file or environment) replaces this whole set.
    for (auto [type, bind] : {std::pair{"tcp", "0.0.0.0:1883"}, std::pair{"ws", "0.0.0.0:8083"}}) {
      ListenerConfig l;
      l.type = type;
      l.name = "default";
      l.bind = bind;
      c.listeners.push_back(std::move(l));
    }
  }
}

// ----------------------------------------------------------------------------- environment

// Keys whose environment value is taken as written rather than read as HOCON (the table's
// verbatim_env): a password such as `true`, `p#ss` or `${x}y` must not become a boolean,
// lose its tail to a comment or be substituted. A value in double quotes is still
// unquoted, as EMQX users write it.
bool is_verbatim(const hocon::Path& path) {
  for (const KeySpec& k : key_table()) {
    if (k.verbatim_env && relate(k.path, path) == Relation::Exact) return true;
  }
  return false;
}

// A key as the table or the list of EMQX features not built knows it.
bool is_key(std::span<const std::string> path) {
  for (const KeySpec& k : key_table()) {
    if (relate(k.path, path) == Relation::Exact) return true;
  }
  return find_foreign(detail::not_implemented_keys(), path) != nullptr;
}

// EMQX_NODE_NAME for node.name: EMQX's start script renames a few such variables
// (EMQX_NODE_NAME, EMQX_NODE_COOKIE) before EMQX reads them; emqxd reads only the "__"
// form, so it refuses to start rather than run under another name. The key meant, or "".
std::string single_underscore_key(std::string_view lowered) {
  for (std::size_t us = lowered.find('_'); us != std::string_view::npos;
       us = lowered.find('_', us + 1)) {
    hocon::Path path{std::string(lowered.substr(0, us)), std::string(lowered.substr(us + 1))};
    if (is_mapped_root(path[0]) && is_key(path)) return path[0] + "." + path[1];
  }
  return "";
}

// EMQX_A__B_C=value sets a.b_c: the value is HOCON if it parses as one value, else text.
// A variable under a root emqxd knows must name a key (the walk checks it like a file's);
// other EMQX_* variables (EMQX_LOG_DIR, EMQX_HOST: EMQX's scripts) are warned about and
// ignored.
void apply_env(Value& root, const std::map<std::string, std::string>& env,
               std::vector<std::string>& warnings) {
  for (const auto& [name, text] : env) {
    if (!name.starts_with("EMQX_")) continue;
    hocon::Path path;
    std::string_view rest = std::string_view(name).substr(5);
    bool empty_part = false;
    while (true) {
      auto sep = rest.find("__");
      std::string part(rest.substr(0, sep));
      if (part.empty()) empty_part = true;
      for (char& c : part)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      path.push_back(std::move(part));
      if (sep == std::string_view::npos) break;
      rest = rest.substr(sep + 2);
    }
    const hocon::Origin origin{name, 0};
    if (!is_known_root(path[0])) {
      if (path.size() == 1) {
        std::string meant = single_underscore_key(path[0]);
        if (!meant.empty()) {
          std::string upper = "EMQX_" + meant;
          for (char& c : upper) {
            c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          }
          upper.replace(upper.find('.'), 1, "__");
          throw ConfigError(name + ": not a config key; " + upper + " sets " + meant +
                            " (EMQX's start script renames " + name + ", emqxd does not)");
        }
      }
      warnings.push_back(name + ": not a config key (no config root " + path[0] + "): ignored");
      continue;
    }
    if (empty_part) {
      throw ConfigError(name + ": not a config key: an empty name between \"__\" separators");
    }
    Value v = Value::make_string(text, origin);
    const bool quoted = text.size() >= 2 && text.front() == '"' && text.back() == '"';
    if (!is_verbatim(path) || quoted) {
      try {
        Value parsed = hocon::parse_value_unresolved(text, name);
        if (!is_verbatim(path) || parsed.is_string()) v = std::move(parsed);
      } catch (const ConfigError&) {
        // Not one HOCON value: plain text.
      }
    }
    hocon::set_path(root, path, std::move(v));
  }
}

std::string lower(std::string_view s);  // below

// Whether a key holds a secret: its value is never shown (GET /api/v5/configs). EMQX's
// sensitive names, and every value of an HTTP `headers` object (an Authorization header).
bool sensitive(std::string_view key) {
  std::string k = lower(key);
  for (std::string_view s :
       {"password", "secret", "cookie", "private_key", "pre_shared_key", "secret_key", "access_key",
        "account_key", "security_token", "token"}) {
    if (k.size() >= s.size() && k.compare(k.size() - s.size(), s.size(), s) == 0) return true;
  }
  return k == "psk";
}

// "scheme://user:pass@host/..." with the password hidden; other text as it is.
std::string without_userinfo(const std::string& text) {
  auto scheme = text.find("://");
  if (scheme == std::string::npos) return text;
  const auto start = scheme + 3;
  const auto end = text.find_first_of("/?#", start);
  const auto at = text.rfind('@', end == std::string::npos ? text.size() : end);
  if (at == std::string::npos || at < start) return text;
  const auto colon = text.find(':', start);
  if (colon == std::string::npos || colon > at) return text;
  return text.substr(0, colon + 1) + "******" + text.substr(at);
}

// `v` with every scalar under a sensitive key replaced by "******".
hocon::Value obfuscated(const hocon::Value& v, bool hide, bool headers = false) {
  if (v.is_object()) {
    hocon::Value out = hocon::Value::make_object(v.origin());
    for (const auto& f : v.fields()) {
      const std::string key[] = {f.key};
      hocon::set_path(
          out, key,
          obfuscated(f.value, hide || headers || sensitive(f.key), lower(f.key) == "headers"));
    }
    return out;
  }
  if (v.is_array()) {
    std::vector<hocon::Value> elements;
    for (const auto& e : v.elements())
      elements.push_back(obfuscated(e, hide));
    return hocon::Value::make_array(std::move(elements), v.origin());
  }
  if (hide && !v.is_null()) return hocon::Value::make_string("******", v.origin());
  if (v.is_string()) {
    std::string clean = without_userinfo(v.text());
    if (clean != v.text()) return hocon::Value::make_string(std::move(clean), v.origin());
  }
  return v;
}

Config map_tree(hocon::Value root, const std::map<std::string, std::string>& env) {
  Config cfg;
  apply_env(root, env, cfg.warnings);
  hocon::resolve(root, env);
  LoadState state(cfg);
  Walker(state).walk_root(root);
  finish(state, root);
  cfg.written_json = obfuscated(root, false).to_json();
  return cfg;
}

}  // namespace

Config load(const std::string& path, const std::map<std::string, std::string>& env) {
  if (path.empty()) return map_tree(Value::make_object(hocon::Origin{"<defaults>", 0}), env);
  return map_tree(hocon::parse_file_unresolved(path), env);
}

Config load_string(std::string_view text, const std::map<std::string, std::string>& env,
                   const std::string& name) {
  return map_tree(hocon::parse_unresolved(text, name), env);
}

std::vector<std::string> known_keys() {
  std::vector<std::string> out;
  for (const KeySpec& k : key_table()) {
    out.emplace_back(k.path);
  }
  return out;
}

std::vector<std::string> not_implemented_keys() {
  std::vector<std::string> out;
  for (const auto& k : detail::not_implemented_keys()) {
    out.emplace_back(k.path);
  }
  return out;
}

std::map<std::string, std::string> environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

}  // namespace

std::optional<Duration> parse_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  std::int64_t total = 0;
  std::size_t i = 0;
  bool first = true;
  while (i < s.size()) {
    if (!is_digit(s[i])) return std::nullopt;
    std::int64_t n = 0;
    for (; i < s.size() && is_digit(s[i]); ++i) {
      if (n > (kMax - 9) / 10) return std::nullopt;
      n = n * 10 + (s[i] - '0');
    }
    std::size_t u = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])))
      ++i;
    std::string unit = lower(s.substr(u, i - u));
    std::int64_t ms_per_unit = 0;
    if (unit.empty()) {
      if (!first || i != s.size()) return std::nullopt;  // a bare number is milliseconds
      ms_per_unit = 1;
    } else if (unit == "ms") {
      ms_per_unit = 1;
    } else if (unit == "s") {
      ms_per_unit = 1000;
    } else if (unit == "m") {
      ms_per_unit = 60 * 1000;
    } else if (unit == "h") {
      ms_per_unit = 3600 * 1000;
    } else if (unit == "d") {
      ms_per_unit = 24 * 3600 * 1000;
    } else {
      return std::nullopt;
    }
    if (n > (kMax - total) / ms_per_unit) return std::nullopt;
    total += n * ms_per_unit;
    first = false;
  }
  return Duration(total);
}

std::optional<std::uint64_t> parse_size(std::string_view s) {
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::size_t i = 0;
  std::uint64_t n = 0;
  for (; i < s.size() && is_digit(s[i]); ++i) {
    if (n > (kMax - 9) / 10) return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(s[i] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string unit = lower(s.substr(i));
  std::uint64_t mult = 0;
  if (unit.empty() || unit == "b") {
    mult = 1;
  } else if (unit == "kb") {
    mult = 1024;
  } else if (unit == "mb") {
    mult = 1024 * 1024;
  } else if (unit == "gb") {
    mult = 1024ULL * 1024 * 1024;
  } else {
    return std::nullopt;
  }
  if (n > kMax / mult) return std::nullopt;
  return n * mult;
}

}  // namespace emqxd::config
