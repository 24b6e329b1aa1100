// The key table: every key emqxd reads, with what its value does to the Config. The loader
// walks the HOCON tree against it (config.cpp); a key that is added here is read from files
// and from EMQX_* variables alike, and must be documented in deploy/emqx.conf (a unit test
// checks). Checks that involve several keys (listener ports, probe_timeout < probe_interval,
// TLS files) run after the walk, in config.cpp.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include "common/log_handlers.hpp"
#include "config/schema.hpp"

namespace emqxd::config::detail {
namespace {

using namespace std::chrono_literals;

constexpr std::int64_t kU16Max = std::numeric_limits<std::uint16_t>::max();
constexpr std::int64_t kU32Max = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t kMaxPacketSize = 268435456;  // 256MB, MQTT's largest packet

void node_name(const In& in) {
  std::string& name = in.cfg().node.name;
  name = in.string();
  auto at = name.find('@');
  if (at == 0 || at == std::string::npos || at + 1 == name.size() ||
      name.find('@', at + 1) != std::string::npos ||
      std::any_of(name.begin(), name.end(),
                  [](char c) { return std::isspace(static_cast<unsigned char>(c)); })) {
    in.fail("must look like name@host, got " + shown(in.v));
  }
}

std::string read_log_level(const Value& v, const std::string& key) {
  // EMQX's extra levels fold onto ours.
  return log::canonical_level(get_enum(v, key,
                                       {"debug", "info", "notice", "warning", "error", "none",
                                        "all", "critical", "alert", "emergency"}));
}

std::string read_time_offset(const Value& v, const std::string& key) {
  std::string o = get_string(v, key);
  if (!log::valid_time_offset(o))
    fail(v, key, "must be system, utc, +hh:mm or -hh:mm, got " + shown(v));
  return o;
}

// The fields of one file handler (EMQX's log_file_handler, with its aliases); false for a
// key that is none of them.
bool read_file_field(const std::string& field, const Value& v, const std::string& key,
                     log::HandlerConfig& h) {
  if (field == "enable") {
    h.enable = get_bool(v, key);
  } else if (field == "level") {
    h.level = read_log_level(v, key);
  } else if (field == "formatter" || field == "format") {
    h.formatter = get_enum(v, key, {"text", "json"});
  } else if (field == "time_offset") {
    h.time_offset = read_time_offset(v, key);
  } else if (field == "timestamp_format") {
    h.timestamp_format = get_enum(v, key, {"auto", "epoch", "rfc3339"});
  } else if (field == "path" || field == "file" || field == "to") {
    h.path = get_string(v, key);
    if (h.path.empty()) fail(v, key, "must not be empty");
  } else if (field == "rotation_count") {
    h.rotation_count = static_cast<std::uint32_t>(get_int(v, key, 1, 128));
  } else if (field == "rotation") {  // EMQX's older form: a count, or {enable, count}
    if (v.is_object()) {
      for (const auto& f : v.fields()) {
        if (f.key == "count") {
          h.rotation_count = static_cast<std::uint32_t>(get_int(f.value, key + ".count", 1, 128));
        } else if (f.key != "enable") {
          fail(f.value, key + "." + f.key, "unknown key (count, enable)");
        }
      }
    } else {
      h.rotation_count = static_cast<std::uint32_t>(get_int(v, key, 1, 128));
    }
  } else if (field == "rotation_size" || field == "max_size") {
    h.rotation_size = v.is_string() && v.text() == "infinity"
                          ? 0
                          : get_size(v, key, 1024, std::uint64_t{1} << 50, "1PB");
  } else {
    return false;
  }
  return true;
}

// EMQX's hidden handler tuning (Erlang logger's queues, overload kill, ...): refused as a
// feature not built, like the other keys of kNotImplemented.
constexpr std::string_view kFileHandlerNotImplemented[] = {
    "chars_limit", "single_line",   "sync_mode_qlen", "drop_mode_qlen",
    "flush_qlen",  "overload_kill", "burst_limit",    "supervisor_reports",
    "max_depth",   "with_mfa",      "payload_encode"};

// log.file: EMQX's union of one handler (its fields straight under log.file: the handler
// "default") and named handlers (log.file.<name> {...}), merged as EMQX's
// ensure_file_handlers does. A handler written is enabled unless enable = false.
void log_file(const In& in) {
  in.object();
  auto& files = in.cfg().log.files;
  files.clear();
  auto handler = [&files](const std::string& name) -> log::HandlerConfig& {
    for (auto& f : files) {
      if (f.name == name) return f;
    }
    log::HandlerConfig h;
    h.name = name;
    h.path = "log/emqx.log";
    files.push_back(std::move(h));
    return files.back();
  };
  auto read = [&](const Value& v, const std::string& key, const std::string& field,
                  log::HandlerConfig& h) {
    if (read_file_field(field, v, key, h)) return true;
    for (auto n : kFileHandlerNotImplemented) {
      if (field == n) fail(v, key, "not implemented yet by emqxd");
    }
    return false;
  };
  for (const auto& f : in.v.fields()) {
    const std::string key = in.key + "." + f.key;
    log::HandlerConfig probe;
    if (read(f.value, key, f.key, probe)) {
      read(f.value, key, f.key, handler("default"));
      continue;
    }
    if (!f.value.is_object()) {
      fail(f.value, key,
           "unknown key of a log file handler (enable, level, path, rotation_count, "
           "rotation_size, formatter, time_offset, timestamp_format); a named handler is an "
           "object: " +
               key + " { path = \"...\" }");
    }
    if (f.key.empty()) fail(f.value, key, "a handler name must not be empty");
    log::HandlerConfig& h = handler(f.key);
    for (const auto& g : f.value.fields()) {
      if (!read(g.value, key + "." + g.key, g.key, h)) {
        fail(g.value, key + "." + g.key,
             "unknown key of a log file handler (enable, level, path, rotation_count, "
             "rotation_size, formatter, time_offset, timestamp_format)");
      }
    }
  }
  for (std::size_t i = 0; i < files.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (files[i].path == files[j].path) {
        in.fail("handlers " + files[j].name + " and " + files[i].name + " write the same file " +
                files[i].path);
      }
    }
  }
}

void keepalive_multiplier(const In& in) {
  auto d = in.v.to_double();
  if (!d) in.fail("expected a number, got " + shown(in.v));
  if (!(*d > 0) || !std::isfinite(*d)) in.fail("must be greater than 0, got " + shown(in.v));
  in.cfg().mqtt.keepalive_multiplier = *d;
}

void server_keepalive(const In& in) {
  auto& k = in.cfg().mqtt.server_keepalive;
  if (in.v.is_string() && in.v.text() == "disabled") {
    k.reset();
  } else if (!in.v.to_int()) {
    in.fail("expected seconds (1 to 65535) or disabled, got " + shown(in.v));
  } else {
    k = in.u16(1, kU16Max);
  }
}

// Seconds (1 to 65535), or infinity (0 in the Config: no limit).
void max_keepalive(const In& in) {
  auto& k = in.cfg().mqtt.max_keepalive;
  if (in.v.is_string() && in.v.text() == "infinity") {
    k = 0;
  } else if (!in.v.to_int()) {
    in.fail("expected seconds (1 to 65535) or infinity, got " + shown(in.v));
  } else {
    k = in.u16(1, kU16Max);
  }
}

PeerCertField cert_field(const In& in) {
  auto v = in.one_of({"disabled", "cn", "dn", "crt", "pem", "md5"});
  return v == "cn"    ? PeerCertField::Cn
         : v == "dn"  ? PeerCertField::Dn
         : v == "crt" ? PeerCertField::Crt
         : v == "pem" ? PeerCertField::Pem
         : v == "md5" ? PeerCertField::Md5
                      : PeerCertField::Disabled;
}

// listeners.<type>.<name>: a listener, or EMQX's way to drop one an earlier file defined.
void listener_section(const In& in) {
  in.load.listeners_named = true;
  if (in.v.is_string() && in.v.text() == "marked_for_deletion") return;
  in.object();
  ListenerDraft d;
  const std::string& type = in.parts[1];
  d.config.type = type;
  d.config.name = in.parts[2];
  d.config.bind = type == "tcp"   ? "0.0.0.0:1883"
                  : type == "ssl" ? "0.0.0.0:8883"
                  : type == "ws"  ? "0.0.0.0:8083"
                                  : "0.0.0.0:8084";
  d.key = in.key;
  d.where = &in.v;
  in.load.listeners.push_back(std::move(d));
}

void listener_bind(const In& in) {
  ListenerDraft& d = in.listener();
  d.config.bind = in.bind();
  d.where = &in.v;
}

void max_connections(const In& in) {
  auto& m = in.listener().config.max_connections;
  if (in.v.is_string() && in.v.text() == "infinity") {
    m = std::numeric_limits<std::uint32_t>::max();
  } else {
    m = in.u32(1, kU32Max);
  }
}

// EMQX's rate: "1000/s", "50/10s", "600/m", "3600/1h" (a count per a period; "s" is
// "1s"), or infinity (count 0). With `bytes` the count is a size: "1MB/s", "512KB/10s".
Rate rate(const In& in, bool bytes) {
  if (in.v.is_string() && in.v.text() == "infinity") return {};
  const std::string text = in.string();
  auto slash = text.find('/');
  auto bad = [&] {
    in.fail(std::string("expected a rate such as ") +
            (bytes ? "\"1MB/s\", \"512KB/10s\"" : "\"1000/s\", \"50/10s\"") + " or infinity, got " +
            shown(in.v));
  };
  if (slash == std::string::npos || slash == 0) bad();
  std::uint64_t count = 0;
  if (bytes) {
    auto n = parse_size(std::string_view(text).substr(0, slash));
    if (!n) bad();
    count = *n;
  } else {
    for (std::size_t i = 0; i < slash; ++i) {
      if (!std::isdigit(static_cast<unsigned char>(text[i])) || count > kU32Max) bad();
      count = count * 10 + static_cast<std::uint64_t>(text[i] - '0');
    }
    if (count > kU32Max) bad();
  }
  std::string period = text.substr(slash + 1);
  if (!period.empty() && !std::isdigit(static_cast<unsigned char>(period[0]))) {
    period = "1" + period;
  }
  auto d = parse_duration(period);
  if (!d || d->count() <= 0 || count == 0) bad();
  return {count, *d};
}

void max_conn_rate(const In& in) {
  auto& l = in.listener().config;
  Rate r = rate(in, false);
  l.max_conn_rate_count = static_cast<std::uint32_t>(r.count);
  if (!r.infinite()) l.max_conn_rate_period = r.period;
}

// A ZeroMQ endpoint to connect to: tcp://host:port or ipc://path (inproc:// could only
// reach the bridge's own context).
std::string zmq_address(const In& in) {
  std::string v = in.string();
  if (!v.starts_with("tcp://") && !v.starts_with("ipc://")) {
    in.fail("expected a ZeroMQ address such as \"tcp://127.0.0.1:5560\" or \"ipc:///path\", got " +
            shown(in.v));
  }
  return v;
}

std::string mqtt_topic_name(const In& in) {
  std::string v = in.string();
  if (v.empty() || v.find_first_of(std::string_view("+#\0", 3)) != std::string::npos)
    in.fail("expected an MQTT topic name without wildcards, got " + shown(in.v));
  return v;
}

std::string mqtt_topic_filter(const In& in) {
  std::string v = in.string();
  bool ok = !v.empty() && v.find('\0') == std::string::npos;
  for (std::size_t start = 0; ok;) {
    const auto slash = v.find('/', start);
    const auto level =
        std::string_view(v).substr(start, slash == std::string::npos ? v.npos : slash - start);
    if (level.find_first_of("+#") != std::string_view::npos && level.size() != 1) ok = false;
    if (level == "#" && slash != std::string::npos) ok = false;
    if (slash == std::string::npos) break;
    start = slash + 1;
  }
  if (!ok) in.fail("expected an MQTT topic filter, got " + shown(in.v));
  return v;
}

void listener_enable_authn(const In& in) {
  auto& mode = in.listener().config.enable_authn;
  if (in.v.is_string() && in.v.text() == "quick_deny_anonymous") {
    mode = AuthnMode::QuickDenyAnonymous;
  } else {
    mode = in.boolean() ? AuthnMode::On : AuthnMode::Off;
  }
}

void max_conn_per_ip(const In& in) {
  auto& m = in.listener().config.max_conn_per_ip;
  if (in.v.is_string() && in.v.text() == "infinity") {
    m = 0;
  } else {
    m = in.u32(1, kU32Max);
  }
}

// An array of strings, or one string of comma-separated items (EMQX takes both for ciphers).
std::vector<std::string> string_list(const In& in) {
  std::vector<std::string> out;
  auto add = [&](std::string_view item) {
    while (!item.empty() && item.front() == ' ')
      item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ')
      item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
  };
  if (in.v.is_array()) {
    for (const auto& e : in.v.elements()) {
      if (!e.is_string()) in.fail("expected an array of strings, got " + shown(in.v));
      add(e.text());
    }
  } else if (in.v.is_string()) {
    std::string_view text = in.v.text();
    while (!text.empty()) {
      auto comma = text.find(',');
      add(text.substr(0, comma));
      text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    }
  } else {
    in.fail("expected an array of strings, got " + shown(in.v));
  }
  return out;
}

void tls_versions(const In& in) {
  auto versions = string_list(in);
  if (versions.empty()) in.fail("must name at least one version");
  for (const auto& v : versions) {
    if (v == "tlsv1" || v == "tlsv1.1") {
      in.fail(v + " is not supported: it is insecure (RFC 8996); use tlsv1.2 and tlsv1.3");
    }
    if (v != "tlsv1.2" && v != "tlsv1.3") {
      in.fail("expected tlsv1.2 or tlsv1.3, got \"" + v + "\"");
    }
  }
  in.listener().config.ssl_options.versions = std::move(versions);
}

void mqtt_path(const In& in) {
  std::string& path = in.listener().config.websocket_mqtt_path;
  path = in.string();
  if (!path.starts_with('/')) in.fail("must start with '/', got " + shown(in.v));
}

void cluster_name(const In& in) {
  std::string& name = in.cfg().cluster.name;
  name = in.string();
  if (name.empty() || !std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-' || ch == '.';
      })) {
    in.fail("must be letters, digits, '_', '-' and '.', got " + shown(in.v));
  }
}

void discovery_strategy(const In& in) {
  std::string s = in.string();
  if (s == "mcast") in.fail("mcast discovery is not supported: use static, dns, etcd or k8s");
  in.cfg().cluster.discovery_strategy = in.one_of({"manual", "static", "dns", "etcd", "k8s"});
  in.load.discovery_strategy = &in.v;
}

// A DNS name (letters, digits, '-', '_' and '.'), as resolvers and Kubernetes take it.
std::string dns_text(const In& in) {
  std::string name = in.string();
  if (name.empty() || name.size() > 253 || !std::all_of(name.begin(), name.end(), [](char ch) {
        return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' || ch == '_' || ch == '.';
      })) {
    in.fail("must be a DNS name (letters, digits, '-', '_' and '.'), got " + shown(in.v));
  }
  return name;
}

// "http[s]://host[:port][/]" -> "http[s]://host:port" (the port: `default_port`).
std::string http_origin(const In& in, std::string url, const char* default_port) {
  const std::size_t scheme = url.starts_with("http://") ? 7 : url.starts_with("https://") ? 8 : 0;
  if (!url.empty() && url.back() == '/') url.pop_back();
  std::string authority = scheme == 0 ? std::string() : url.substr(scheme);
  const bool v6 = authority.starts_with('[');
  const auto colon = authority.rfind(':');
  const bool has_port = colon != std::string::npos && (!v6 || colon > authority.find(']'));
  const std::string host = has_port ? authority.substr(0, colon) : authority;
  const std::string port = has_port ? authority.substr(colon + 1) : default_port;
  if (scheme == 0 || host.empty() || authority.find_first_of("/?#@ ") != std::string::npos ||
      port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), ::isdigit) ||
      std::stoi(port) == 0 || std::stoi(port) > 65535) {
    in.fail("expected http[s]://host[:port], got \"" + url + "\"");
  }
  return url.substr(0, scheme) + host + ":" + port;
}

// cluster.etcd.server: EMQX's comma-separated list of etcd's client URLs.
void etcd_servers(const In& in) {
  const std::string text = in.string();
  std::vector<std::string> out;
  for (std::size_t at = 0; at <= text.size();) {
    const auto comma = std::min(text.find(',', at), text.size());
    std::string item = text.substr(at, comma - at);
    std::erase(item, ' ');
    if (!item.empty()) {
      std::string origin = http_origin(in, item, "2379");
      if (std::find(out.begin(), out.end(), origin) == out.end()) out.push_back(std::move(origin));
    }
    at = comma + 1;
  }
  if (out.empty()) in.fail("must name at least one etcd server (http://host:2379)");
  in.cfg().cluster.etcd_servers = std::move(out);
}

// cluster.etcd.prefix: the first part of every key; printable, without '/' at either end.
void etcd_prefix(const In& in) {
  std::string p = in.string();
  if (p.empty() || p.size() > 256 || p.front() == '/' || p.back() == '/' ||
      !std::all_of(p.begin(), p.end(), [](char ch) { return ch > ' ' && ch < 0x7f; })) {
    in.fail("must be printable text without spaces, not starting or ending with '/', got " +
            shown(in.v));
  }
  in.cfg().cluster.etcd_prefix = std::move(p);
}

void credential(const In& in, std::string& out) {
  out = in.string();
  if (out.empty()) in.fail("must not be empty");
}

// authorization.sources: an array of objects, each read here with its own fields checked
// (the key table has no patterns for array elements). Errors name the element as
// authorization.sources[N] (N from 1, as EMQX counts HOCON array elements) and its line.
void authz_sources(const In& in) {
  if (!in.v.is_array()) in.fail("expected an array of sources, got " + shown(in.v));
  auto& sources = in.cfg().authorization.sources;
  sources.clear();  // a later file or the environment replaces the whole array, as in EMQX
  std::size_t index = 0;
  for (const Value& e : in.v.elements()) {
    ++index;
    const std::string key = in.key + "[" + std::to_string(index) + "]";
    if (!e.is_object())
      fail(e, key, "expected an object ({type = file, path = ...}), got " + shown(e));
    AuthzSourceConfig src;
    src.key = key;
    src.origin = e.origin().to_string();
    const Value* type = e.find("type");
    if (type == nullptr) {
      fail(e, key + ".type",
           "required (file, http, built_in_database, postgresql, mysql or redis)");
    }
    src.type = get_string(*type, key + ".type");
    if (src.type == "mongodb" || src.type == "ldap") {
      fail(*type, key + ".type",
           "source type " + src.type +
               " not implemented yet by emqxd (file, http, built_in_database, postgresql, mysql "
               "and redis are)");
    }
    if (src.type != "file" && src.type != "http" && src.type != "postgresql" &&
        src.type != "mysql" && src.type != "redis" && src.type != "built_in_database") {
      fail(*type, key + ".type",
           "unknown source type " + shown(*type) +
               ", expected file, http, built_in_database, postgresql, mysql or redis");
    }
    for (const auto& other : sources) {
      if (other.type == src.type) {
        fail(*type, key + ".type",
             "a second " + src.type + " source (the first is " + other.key + ")");
      }
    }
    if (src.type == "http") {
      read_authz_http_source(e, key, src);
      sources.push_back(std::move(src));
      continue;
    }
    if (src.type == "built_in_database") {
      for (const auto& f : e.fields()) {
        const std::string fkey = key + "." + f.key;
        if (f.key == "type") continue;
        if (f.key == "enable") {
          src.enable = get_bool(f.value, fkey);
        } else if (f.key == "max_rules") {
          src.max_rules = static_cast<std::uint32_t>(get_int(f.value, fkey, 1, 10'000));
        } else {
          fail(f.value, fkey,
               "unknown key of a built_in_database source (type, enable, max_rules)");
        }
      }
      sources.push_back(std::move(src));
      continue;
    }
    if (src.type == "postgresql" || src.type == "mysql" || src.type == "redis") {
      read_db_fields(e, key, src.type, false, {"type", "enable"}, src.db);
      if (const Value* en = e.find("enable")) src.enable = get_bool(*en, key + ".enable");
    }
    for (const auto& f : e.fields()) {
      if (src.type != "file") break;
      const std::string fkey = key + "." + f.key;
      if (f.key == "type") continue;
      if (f.key == "enable") {
        src.enable = get_bool(f.value, fkey);
      } else if (f.key == "path") {
        src.path = get_string(f.value, fkey);
        if (src.path.empty()) fail(f.value, fkey, "must not be empty");
      } else {
        fail(f.value, fkey, "unknown key of a file source (type, enable, path)");
      }
    }
    if (src.type == "file" && e.find("path") == nullptr)
      fail(e, key + ".path", "required for a file source: the acl.conf to read");
    sources.push_back(std::move(src));
  }
}

// EMQX's percentage: "70%" (or a ratio 0.7), from 0 to 100%.
double percent(const In& in) {
  std::optional<double> r;
  if (in.v.is_string() && in.v.text().ends_with('%')) {
    std::string t(in.v.text().substr(0, in.v.text().size() - 1));
    char* end = nullptr;
    double d = std::strtod(t.c_str(), &end);
    if (!t.empty() && end == t.c_str() + t.size()) r = d / 100;
  } else {
    r = in.v.to_double();
  }
  if (!r || !std::isfinite(*r) || *r < 0 || *r > 1) {
    in.fail("expected a percentage from 0% to 100% (\"70%\"), got " + shown(in.v));
  }
  return *r;
}

void alarm_actions(const In& in) {
  auto& a = in.cfg().alarm;
  a.log = a.publish = false;
  if (!in.v.is_array()) in.fail("expected an array of log and publish, got " + shown(in.v));
  for (const auto& e : in.v.elements()) {
    if (!e.is_string() || (e.text() != "log" && e.text() != "publish")) {
      in.fail("expected an array of log and publish, got " + shown(in.v));
    }
    (e.text() == "log" ? a.log : a.publish) = true;
  }
}

// topic_metrics = [{topic = "a/b"}, ...]: topic names (no wildcard), at most 512, as EMQX.
void topic_metrics_list(const In& in) {
  if (!in.v.is_array()) in.fail("expected an array of {topic = \"...\"}, got " + shown(in.v));
  auto& out = in.cfg().topic_metrics;
  out.clear();
  for (const auto& e : in.v.elements()) {
    if (!e.is_object()) in.fail("expected an array of {topic = \"...\"}, got " + shown(in.v));
    const Value* topic = nullptr;
    for (const auto& f : e.fields()) {
      if (f.key != "topic") fail(f.value, in.key + "." + f.key, "unknown key (topic)");
      topic = &f.value;
    }
    if (topic == nullptr) in.fail("every entry needs a topic");
    std::string t = get_string(*topic, in.key + ".topic");
    if (t.empty() || t.size() > 65535 || t.find_first_of("+#") != std::string::npos ||
        t.find('\0') != std::string::npos) {
      fail(*topic, in.key + ".topic",
           "must be a topic name without wildcards, got " + shown(*topic));
    }
    if (std::find(out.begin(), out.end(), t) != out.end()) {
      fail(*topic, in.key + ".topic", "is listed twice: " + shown(*topic));
    }
    out.push_back(std::move(t));
  }
  if (out.size() > 512) in.fail("at most 512 topics are counted");
}

#define EMQXD_SET(field, expr) [](const In& in) { in.cfg().field = expr; }

const KeySpec kKeys[] = {
    // node
    {"node.name", node_name},
    {"node.data_dir",
     [](const In& in) {
       in.cfg().node.data_dir = in.string();
       if (in.cfg().node.data_dir.empty()) in.fail("must not be empty");
     }},
    {"node.io_threads", EMQXD_SET(node.io_threads, in.u32(0, 1024))},
    {"node.cookie",
     [](const In& in) {
       in.cfg().node.cookie = in.string();
       if (in.cfg().node.cookie.empty()) in.fail("must not be empty (remove the key for none)");
       in.load.cookie = &in.v;
     },
     Shape::Leaf, /*verbatim_env=*/true},

    // log
    {"log.console.level", EMQXD_SET(log.console.level, read_log_level(in.v, in.key))},
    {"log.console.formatter", EMQXD_SET(log.console.formatter, in.one_of({"text", "json"}))},
    {"log.console.enable", EMQXD_SET(log.console.enable, in.boolean())},
    {"log.console.time_offset", EMQXD_SET(log.console.time_offset, read_time_offset(in.v, in.key))},
    {"log.console.timestamp_format",
     EMQXD_SET(log.console.timestamp_format, in.one_of({"auto", "epoch", "rfc3339"}))},
    {"log.file", log_file},

    // trace (session/trace.hpp): trace.max_file_size is emqxd's (EMQX's own bound is fixed)
    {"trace.max_file_size",
     EMQXD_SET(trace.max_file_size, in.size(4096, std::uint64_t{1} << 31, "2GB"))},
    {"trace.payload_encode", EMQXD_SET(trace.payload_encode, in.one_of({"text", "hex", "hidden"}))},

    // mqtt
    {"mqtt.max_packet_size",
     EMQXD_SET(mqtt.max_packet_size,
               static_cast<std::uint32_t>(in.size(1, kMaxPacketSize, "256MB")))},
    {"mqtt.max_clientid_len", EMQXD_SET(mqtt.max_clientid_len, in.u32(23, kU16Max))},
    {"mqtt.max_topic_levels", EMQXD_SET(mqtt.max_topic_levels, in.u32(1, kU16Max))},
    {"mqtt.max_qos_allowed",
     [](const In& in) {
       auto q = in.v.to_int();
       if (!q || *q < 0 || *q > 2) in.fail("must be 0, 1 or 2, got " + shown(in.v));
       in.cfg().mqtt.max_qos_allowed = static_cast<std::uint8_t>(*q);
     }},
    {"mqtt.max_topic_alias", EMQXD_SET(mqtt.max_topic_alias, in.u16(0, kU16Max))},
    {"mqtt.retain_available", EMQXD_SET(mqtt.retain_available, in.boolean())},
    {"mqtt.wildcard_subscription", EMQXD_SET(mqtt.wildcard_subscription, in.boolean())},
    {"mqtt.shared_subscription", EMQXD_SET(mqtt.shared_subscription, in.boolean())},
    {"mqtt.exclusive_subscription", EMQXD_SET(mqtt.exclusive_subscription, in.boolean())},
    {"mqtt.max_subscriptions", EMQXD_SET(mqtt.max_subscriptions, in.limit())},
    {"mqtt.max_inflight", EMQXD_SET(mqtt.max_inflight, in.u16(1, kU16Max))},
    {"mqtt.max_mqueue_len", EMQXD_SET(mqtt.max_mqueue_len, in.limit())},
    {"mqtt.mqueue_store_qos0", EMQXD_SET(mqtt.mqueue_store_qos0, in.boolean())},
    {"mqtt.backpressure", EMQXD_SET(mqtt.backpressure, in.boolean())},
    {"mqtt.backpressure_stall_timeout",
     EMQXD_SET(mqtt.backpressure_stall_timeout, in.duration_in(100ms, std::chrono::minutes(10)))},
    {"mqtt.max_awaiting_rel", EMQXD_SET(mqtt.max_awaiting_rel, in.limit())},
    {"mqtt.await_rel_timeout", EMQXD_SET(mqtt.await_rel_timeout, in.duration())},
    {"mqtt.retry_interval", EMQXD_SET(mqtt.retry_interval, in.duration())},
    {"mqtt.keepalive_multiplier", keepalive_multiplier},
    {"mqtt.server_keepalive", server_keepalive},
    {"mqtt.max_keepalive", max_keepalive},
    {"mqtt.session_expiry_interval", EMQXD_SET(mqtt.session_expiry_interval, in.duration())},
    {"mqtt.shared_subscription_strategy",
     EMQXD_SET(mqtt.shared_subscription_strategy,
               in.one_of({"random", "round_robin", "round_robin_per_group", "sticky", "local",
                          "hash_topic", "hash_clientid"}))},
    {"mqtt.idle_timeout", EMQXD_SET(mqtt.idle_timeout, in.duration_or("infinity"))},
    {"mqtt.ignore_loop_deliver", EMQXD_SET(mqtt.ignore_loop_deliver, in.boolean())},
    {"mqtt.server_reference", EMQXD_SET(mqtt.server_reference, in.string())},
    {"mqtt.response_information", EMQXD_SET(mqtt.response_information, in.string())},

    // force_shutdown
    {"force_shutdown.enable", EMQXD_SET(force_shutdown.enable, in.boolean())},
    {"flapping_detect.enable", EMQXD_SET(flapping_detect.enable, in.boolean())},
    {"flapping_detect.max_count", EMQXD_SET(flapping_detect.max_count, in.u32(1, kU32Max))},
    {"flapping_detect.window_time",
     EMQXD_SET(flapping_detect.window_time, in.duration_in(1s, 24h * 365))},
    {"flapping_detect.ban_time", EMQXD_SET(flapping_detect.ban_time, in.duration_in(1s, 24h * 365))},
    {"force_shutdown.max_heap_size",
     EMQXD_SET(force_shutdown.max_heap_size, in.size(64 * 1024, std::uint64_t{1} << 40, "1024GB"))},

    // listeners.<type>.<name>
    {"listeners.tcp|ssl|ws|wss.*", listener_section, Shape::Section},
    {"listeners.tcp|ssl|ws|wss.*.enable",
     [](const In& in) { in.listener().config.enable = in.boolean(); }},
    {"listeners.tcp|ssl|ws|wss.*.bind", listener_bind},
    {"listeners.tcp|ssl|ws|wss.*.max_connections", max_connections},
    {"listeners.tcp|ssl|ws|wss.*.max_conn_rate", max_conn_rate},
    {"listeners.tcp|ssl|ws|wss.*.max_conn_per_ip", max_conn_per_ip},
    {"listeners.tcp|ssl|ws|wss.*.messages_rate",
     [](const In& in) { in.listener().config.messages_rate = rate(in, false); }},
    {"listeners.tcp|ssl|ws|wss.*.bytes_rate",
     [](const In& in) { in.listener().config.bytes_rate = rate(in, true); }},
    {"listeners.ws|wss.*.websocket.mqtt_path", mqtt_path},
    {"listeners.ssl|wss.*.ssl_options.certfile",
     [](const In& in) { in.listener().config.ssl_options.certfile = in.string(); }},
    {"listeners.ssl|wss.*.ssl_options.keyfile",
     [](const In& in) { in.listener().config.ssl_options.keyfile = in.string(); }},
    {"listeners.ssl|wss.*.ssl_options.cacertfile",
     [](const In& in) { in.listener().config.ssl_options.cacertfile = in.string(); }},
    {"listeners.ssl|wss.*.ssl_options.verify",
     [](const In& in) {
       in.listener().config.ssl_options.verify = in.one_of({"verify_peer", "verify_none"});
     }},
    {"listeners.ssl|wss.*.ssl_options.versions", tls_versions},
    {"listeners.ssl|wss.*.ssl_options.ciphers",
     [](const In& in) { in.listener().config.ssl_options.ciphers = string_list(in); }},
    {"listeners.ssl|wss.*.ssl_options.depth",
     [](const In& in) { in.listener().config.ssl_options.depth = in.u32(0, 100); }},
    {"listeners.ssl|wss.*.ssl_options.honor_cipher_order",
     [](const In& in) { in.listener().config.ssl_options.honor_cipher_order = in.boolean(); }},
    {"listeners.ssl|wss.*.ssl_options.fail_if_no_peer_cert",
     [](const In& in) { in.listener().config.ssl_options.fail_if_no_peer_cert = in.boolean(); }},

    // sys_topics
    {"sys_topics.sys_msg_interval", EMQXD_SET(sys_topics.sys_msg_interval, in.duration_or("disabled"))},
    {"sys_topics.sys_heartbeat_interval",
     EMQXD_SET(sys_topics.sys_heartbeat_interval, in.duration_or("disabled"))},
    {"sys_topics.sys_event_messages.client_connected",
     EMQXD_SET(sys_topics.client_connected, in.boolean())},
    {"sys_topics.sys_event_messages.client_disconnected",
     EMQXD_SET(sys_topics.client_disconnected, in.boolean())},
    {"sys_topics.sys_event_messages.client_subscribed",
     EMQXD_SET(sys_topics.client_subscribed, in.boolean())},
    {"sys_topics.sys_event_messages.client_unsubscribed",
     EMQXD_SET(sys_topics.client_unsubscribed, in.boolean())},

    // retainer
    {"retainer.enable", EMQXD_SET(retainer.enable, in.boolean())},
    {"retainer.max_retained_messages", EMQXD_SET(retainer.max_retained_messages, in.limit())},
    {"retainer.max_payload_size",
     EMQXD_SET(retainer.max_payload_size,
               static_cast<std::uint32_t>(in.size(0, kU32Max, std::to_string(kU32Max))))},
    {"retainer.msg_expiry_interval", EMQXD_SET(retainer.msg_expiry_interval, in.duration())},

    // durable_sessions, durable_storage
    {"durable_sessions.enable", EMQXD_SET(durable_sessions.enable, in.boolean())},
    {"durable_sessions.sync", EMQXD_SET(durable_sessions.sync, in.boolean())},
    {"durable_storage.rocksdb.write_buffer_size",
     EMQXD_SET(durable_storage.write_buffer_size, in.size(64 * 1024, 1ULL << 30, "1GB"))},
    {"durable_storage.rocksdb.block_cache_size",
     EMQXD_SET(durable_storage.block_cache_size, in.size(0, 64ULL << 30, "64GB"))},

    // cluster
    {"cluster",
     [](const In& in) {
       in.object();
       in.load.cluster = &in.v;
     },
     Shape::Section},
    {"cluster.name", cluster_name},
    {"cluster.discovery_strategy", discovery_strategy},
    {"cluster.static.seeds", EMQXD_SET(cluster.static_seeds, get_seeds(in.v, in.key))},
    {"cluster.dns", [](const In& in) { in.object(); }, Shape::Section},
    {"cluster.dns.name", EMQXD_SET(cluster.dns_name, dns_text(in))},
    {"cluster.dns.record_type", EMQXD_SET(cluster.dns_record_type, in.one_of({"a", "aaaa", "srv"}))},
    {"cluster.etcd", [](const In& in) { in.object(); }, Shape::Section},
    {"cluster.etcd.server", etcd_servers},
    {"cluster.etcd.prefix", etcd_prefix},
    {"cluster.etcd.node_ttl", EMQXD_SET(cluster.etcd_node_ttl, in.duration_in(10s, 24h))},
    // ssl: EMQX's older name of ssl_options.
    {"cluster.etcd.ssl_options|ssl",
     [](const In& in) { read_client_ssl(in.v, in.key, in.cfg().cluster.etcd_ssl); }},
    {"cluster.k8s", [](const In& in) { in.object(); }, Shape::Section},
    {"cluster.k8s.apiserver",
     EMQXD_SET(cluster.k8s_apiserver, http_origin(in, in.string(), "443"))},
    {"cluster.k8s.service_name", EMQXD_SET(cluster.k8s_service_name, dns_text(in))},
    {"cluster.k8s.address_type",
     EMQXD_SET(cluster.k8s_address_type, in.one_of({"ip", "dns", "hostname"}))},
    {"cluster.k8s.namespace", EMQXD_SET(cluster.k8s_namespace, dns_text(in))},
    {"cluster.k8s.suffix", EMQXD_SET(cluster.k8s_suffix, dns_text(in))},
    {"cluster.k8s.service_account_dir", EMQXD_SET(cluster.k8s_service_account_dir, in.string())},
    {"cluster.rpc.bind",
     [](const In& in) {
       in.cfg().cluster.rpc_bind = in.bind();
       in.load.rpc_bind = &in.v;
     }},
    {"cluster.rpc.ssl",
     [](const In& in) {
       in.object();
       in.load.rpc_ssl = &in.v;
     },
     Shape::Section},
    {"cluster.rpc.ssl.enable", EMQXD_SET(cluster.rpc_ssl.enable, in.boolean())},
    {"cluster.rpc.ssl.certfile", EMQXD_SET(cluster.rpc_ssl.certfile, in.string())},
    {"cluster.rpc.ssl.keyfile", EMQXD_SET(cluster.rpc_ssl.keyfile, in.string())},
    {"cluster.rpc.ssl.cacertfile", EMQXD_SET(cluster.rpc_ssl.cacertfile, in.string())},
    {"cluster.rpc.ssl.verify",
     EMQXD_SET(cluster.rpc_ssl.verify, in.one_of({"verify_peer", "verify_none"}))},
    {"cluster.probe_interval",
     [](const In& in) {
       in.cfg().cluster.probe_interval = in.duration_in(10ms, 1min);
       in.load.probe_interval = &in.v;
     }},
    {"cluster.probe_timeout",
     [](const In& in) {
       in.cfg().cluster.probe_timeout = in.duration_in(1ms, 1min);
       in.load.probe_timeout = &in.v;
     }},
    {"cluster.indirect_probes", EMQXD_SET(cluster.indirect_probes, in.u32(0, 16))},
    {"cluster.suspicion_multiplier", EMQXD_SET(cluster.suspicion_multiplier, in.u32(1, 100))},
    {"cluster.retransmit_multiplier", EMQXD_SET(cluster.retransmit_multiplier, in.u32(1, 100))},
    {"cluster.gossip_interval",
     [](const In& in) {
       auto d = in.duration_or("disabled");
       if (d > 1min) in.fail("must be at most 1m, got " + shown(in.v));
       in.cfg().cluster.gossip_interval = d;
     }},
    {"cluster.gossip_fanout", EMQXD_SET(cluster.gossip_fanout, in.u32(1, 16))},
    {"cluster.push_pull_interval",
     [](const In& in) {
       auto d = in.duration_or("disabled");
       if (d > 24h) in.fail("must be at most 24h, got " + shown(in.v));
       in.cfg().cluster.push_pull_interval = d;
     }},
    {"cluster.autoheal", EMQXD_SET(cluster.autoheal, in.boolean())},
    {"cluster.reconnect_interval",
     EMQXD_SET(cluster.reconnect_interval, in.duration_in(100ms, 24h))},
    {"cluster.autoclean", EMQXD_SET(cluster.autoclean, in.duration_in(1s, 24h * 365))},
    {"cluster.max_nodes", EMQXD_SET(cluster.max_nodes, in.u32(2, 65535))},

    // authorization: EMQX's keys (auth/authorization.hpp)
    {"authorization", [](const In& in) { in.object(); }, Shape::Section},
    {"authorization.no_match", EMQXD_SET(authorization.no_match, in.one_of({"allow", "deny"}))},
    {"authorization.deny_action",
     EMQXD_SET(authorization.deny_action, in.one_of({"ignore", "disconnect"}))},
    {"authorization.cache.enable", EMQXD_SET(authorization.cache_enable, in.boolean())},
    {"authorization.cache.max_size", EMQXD_SET(authorization.cache_max_size, in.u32(1, 1048576))},
    {"authorization.cache.ttl", EMQXD_SET(authorization.cache_ttl, in.duration_in(1ms, 24h * 365))},
    {"authorization.cache.excludes",
     EMQXD_SET(authorization.cache_excludes, string_list(in))},
    {"authorization.sources", authz_sources},

    // dashboard: the HTTP API
    {"dashboard",
     [](const In& in) {
       in.object();
       in.load.dashboard = &in.v;
     },
     Shape::Section},
    {"dashboard.listeners.http.bind", EMQXD_SET(dashboard_http_bind, in.bind())},
    {"dashboard.listeners.http.enable", EMQXD_SET(dashboard_http_enable, in.boolean())},
    {"dashboard.swagger_support", EMQXD_SET(dashboard_swagger_support, in.boolean())},
    {"dashboard.default_username",
     [](const In& in) { credential(in, in.cfg().dashboard_default_username); }, Shape::Leaf,
     /*verbatim_env=*/true},
    {"dashboard.default_password",
     [](const In& in) { credential(in, in.cfg().dashboard_default_password); }, Shape::Leaf,
     /*verbatim_env=*/true},
    {"dashboard.unsuccessful_login_max_attempts",
     EMQXD_SET(dashboard_login_max_attempts, in.u32(1, 1000))},
    {"dashboard.unsuccessful_login_lock_duration",
     EMQXD_SET(dashboard_login_lock_duration, in.duration_in(1s, 24h * 365))},
    // api_key: EMQX's API keys, from a bootstrap file only (no API to create them)
    {"api_key", [](const In& in) { in.object(); }, Shape::Section},
    {"api_key.bootstrap_file", EMQXD_SET(api_key_bootstrap_file, in.string())},
    {"mqtt.peer_cert_as_username", [](const In& in) { in.cfg().mqtt.peer_cert_as_username = cert_field(in); }},
    {"mqtt.peer_cert_as_clientid", [](const In& in) { in.cfg().mqtt.peer_cert_as_clientid = cert_field(in); }},
    {"mqtt.use_username_as_clientid", EMQXD_SET(mqtt.use_username_as_clientid, in.boolean())},
    // authentication: EMQX's chain (authn_keys.cpp reads the array)
    {"authentication", authentication_chain},
    {"listeners.tcp|ssl|ws|wss.*.enable_authn", listener_enable_authn},
    {"dashboard.token_expired_time",
     EMQXD_SET(dashboard_token_life, in.duration_in(1s, 24h * 365))},
    {"dashboard.unsuccessful_login_interval",
     EMQXD_SET(dashboard_login_interval, in.duration_in(1s, 24h * 365))},

    // delayed publish, topic rewrite, auto subscribe (EMQX's modules; module_keys.cpp)
    {"delayed", [](const In& in) { in.object(); }, Shape::Section},
    {"delayed.enable", EMQXD_SET(delayed.enable, in.boolean())},
    {"delayed.max_delayed_messages", EMQXD_SET(delayed.max_delayed_messages, in.u32(0, kU32Max))},
    {"rewrite", rewrite_rules},
    {"auto_subscribe", [](const In& in) { in.object(); }, Shape::Section},
    {"auto_subscribe.topics", auto_subscribe_topics},

    // prometheus, alarm, sysmon (api/prometheus.hpp, api/alarms.hpp, app/sysmon.hpp)
    {"prometheus", [](const In& in) { in.object(); }, Shape::Section},
    {"prometheus.enable_basic_auth", EMQXD_SET(prometheus.enable_basic_auth, in.boolean())},
    {"alarm", [](const In& in) { in.object(); }, Shape::Section},
    {"alarm.actions", alarm_actions},
    {"alarm.size_limit", EMQXD_SET(alarm.size_limit, in.u32(1, 3000))},
    {"alarm.validity_period", EMQXD_SET(alarm.validity_period, in.duration_in(1s, 24h * 365))},
    {"sysmon", [](const In& in) { in.object(); }, Shape::Section},
    {"sysmon.os", [](const In& in) { in.object(); }, Shape::Section},
    {"sysmon.os.mem_check_interval",
     EMQXD_SET(sysmon.mem_check_interval, in.duration_or("disabled"))},
    {"sysmon.os.sysmem_high_watermark", EMQXD_SET(sysmon.sysmem_high_watermark, percent(in))},
    {"sysmon.os.procmem_high_watermark", EMQXD_SET(sysmon.procmem_high_watermark, percent(in))},
    // slow_subs, topic_metrics (session/slow_subs.hpp, session/topic_metrics.hpp)
    {"slow_subs", [](const In& in) { in.object(); }, Shape::Section},
    {"slow_subs.enable", EMQXD_SET(slow_subs.enable, in.boolean())},
    {"slow_subs.threshold", EMQXD_SET(slow_subs.threshold, in.duration_in(100ms, 24h * 365))},
    {"slow_subs.expire_interval",
     EMQXD_SET(slow_subs.expire_interval, in.duration_in(1ms, 24h * 365))},
    {"slow_subs.top_k_num", EMQXD_SET(slow_subs.top_k_num, in.u32(1, 1000))},
    {"slow_subs.stats_type",
     [](const In& in) {
       auto t = in.one_of({"whole", "internal", "response"});
       using T = SlowSubsConfig::StatsType;
       in.cfg().slow_subs.stats_type =
           t == "whole" ? T::Whole : (t == "internal" ? T::Internal : T::Response);
     }},
    {"topic_metrics", topic_metrics_list},
    {"rule_engine", [](const In& in) { in.object(); }, Shape::Section},
    {"rule_engine.ignore_sys_message", EMQXD_SET(rule_engine.ignore_sys_message, in.boolean())},
    {"rule_engine.rules", [](const In& in) { in.object(); }, Shape::Section},
    {"rule_engine.rules.*", rule_engine_rule},
    {"connectors", [](const In& in) { in.object(); }, Shape::Section},
    {"connectors.*", [](const In& in) { in.object(); }, Shape::Section},
    {"connectors.*.*", connector_entry},
    {"actions", [](const In& in) { in.object(); }, Shape::Section},
    {"actions.*", [](const In& in) { in.object(); }, Shape::Section},
    {"actions.*.*", action_entry},
    // gateway.mqttsn (gateway_keys.cpp; docs/gateways.md)
    {"gateway", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.mqttsn|stomp|coap|lwm2m", gateway_section, Shape::Section},
    {"gateway.mqttsn|stomp|coap|lwm2m.enable", [](const In& in) { gateway_common(in).enable = in.boolean(); }},
    {"gateway.mqttsn.gateway_id", EMQXD_SET(gateway_mqttsn.gateway_id, in.u32(0, 255))},
    {"gateway.mqttsn.broadcast",
     [](const In& in) {
       if (in.boolean()) {
         in.fail("ADVERTISE broadcasts are not implemented yet by emqxd; clients find the "
                 "gateway with SEARCHGW (answered with GWINFO)");
       }
     }},
    {"gateway.mqttsn.enable_qos3", EMQXD_SET(gateway_mqttsn.enable_qos3, in.boolean())},
    {"gateway.mqttsn.subs_resume",
     [](const In& in) {
       if (in.boolean()) in.fail("only false is implemented by emqxd");
     }},
    {"gateway.mqttsn.predefined", gateway_mqttsn_predefined},
    {"gateway.mqttsn|stomp|coap|lwm2m.mountpoint", [](const In& in) { gateway_common(in).mountpoint = in.string(); }},
    {"gateway.mqttsn|stomp|coap|lwm2m.idle_timeout",
     [](const In& in) {
       gateway_common(in).idle_timeout = in.duration_in(1s, std::chrono::hours(24));
     }},
    {"gateway.mqttsn|stomp|coap|lwm2m.enable_stats", [](const In& in) { in.boolean(); }},
    {"gateway.mqttsn|stomp|coap|lwm2m.clientinfo_override", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.mqttsn|stomp|coap|lwm2m.clientinfo_override.username",
     [](const In& in) { gateway_common(in).override_username = in.string(); }},
    {"gateway.mqttsn|stomp|coap|lwm2m.clientinfo_override.password",
     [](const In& in) { gateway_common(in).override_password = in.string(); }, Shape::Leaf,
     /*verbatim_env=*/true},
    {"gateway.mqttsn|stomp|coap|lwm2m.clientinfo_override.clientid",
     [](const In& in) { gateway_common(in).override_clientid = in.string(); }},
    {"gateway.mqttsn|stomp|coap|lwm2m.listeners", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.mqttsn.listeners.udp", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.zmq",
     [](const In& in) {
       in.object();
       in.cfg().gateway_zmq.configured = true;
     },
     Shape::Section},
    {"gateway.zmq.enable", EMQXD_SET(gateway_zmq.enable, in.boolean())},
    {"gateway.zmq.sub_address", EMQXD_SET(gateway_zmq.sub_address, zmq_address(in))},
    {"gateway.zmq.pub_address", EMQXD_SET(gateway_zmq.pub_address, zmq_address(in))},
    {"gateway.zmq.sub_pre", EMQXD_SET(gateway_zmq.sub_pre, in.string())},
    {"gateway.zmq.pub_pre", EMQXD_SET(gateway_zmq.pub_pre, in.string())},
    {"gateway.zmq.forward", EMQXD_SET(gateway_zmq.forward, mqtt_topic_name(in))},
    {"gateway.zmq.sub_topic", EMQXD_SET(gateway_zmq.sub_topic, mqtt_topic_filter(in))},
    {"gateway.zmq.qos", EMQXD_SET(gateway_zmq.qos, static_cast<int>(in.integer(0, 1)))},
    {"gateway.lwm2m.listeners.udp", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.lwm2m.listeners.udp.*", gateway_listener_section, Shape::Section},
    {"gateway.lwm2m.listeners.udp.*.enable",
     [](const In& in) { in.listener().config.enable = in.boolean(); }},
    {"gateway.lwm2m.listeners.udp.*.bind", listener_bind},
    {"gateway.lwm2m.listeners.udp.*.max_connections", max_connections},
    {"gateway.lwm2m.listeners.udp.*.max_conn_rate", max_conn_rate},
    {"gateway.lwm2m.listeners.udp.*.enable_authn", listener_enable_authn},
    {"gateway.lwm2m.xml_dir", EMQXD_SET(gateway_lwm2m.xml_dir, in.string())},
    {"gateway.lwm2m.lifetime_min", EMQXD_SET(gateway_lwm2m.lifetime_min, in.duration_in(1s, 24h * 365))},
    {"gateway.lwm2m.lifetime_max", EMQXD_SET(gateway_lwm2m.lifetime_max, in.duration_in(1s, 24h * 365))},
    {"gateway.lwm2m.qmode_time_window",
     EMQXD_SET(gateway_lwm2m.qmode_time_window, in.duration_in(1s, 24h))},
    {"gateway.lwm2m.auto_observe", gateway_lwm2m_auto_observe},
    {"gateway.lwm2m.update_msg_publish_condition",
     EMQXD_SET(gateway_lwm2m.update_msg_publish_condition,
               in.one_of({"contains_object_list", "always"}))},
    {"gateway.lwm2m.translators", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.lwm2m.translators.command|response|notify|register|update", gateway_lwm2m_translator,
     Shape::Section},
    {"gateway.lwm2m.translators.command|response|notify|register|update.topic",
     gateway_lwm2m_translator},
    {"gateway.lwm2m.translators.command|response|notify|register|update.qos",
     gateway_lwm2m_translator},
    {"bridges", [](const In& in) { in.object(); }, Shape::Section},
    {"bridges.nng", [](const In& in) { in.object(); }, Shape::Section},
    {"bridges.nng.pub|sub|rep", [](const In& in) { in.object(); }, Shape::Section},
    {"bridges.nng.pub|sub|rep.*", nng_bridge_section, Shape::Section},
    {"bridges.nng.pub|sub|rep.*.enable", [](const In& in) { nng_bridge(in).enable = in.boolean(); }},
    {"bridges.nng.pub|sub|rep.*.clientid", [](const In& in) { nng_bridge(in).clientid = in.string(); }},
    {"bridges.nng.pub|sub|rep.*.allow_remote", [](const In& in) { nng_bridge(in).allow_remote = in.boolean(); }},
    {"bridges.nng.pub.*.pub_url", nng_bridge_url},
    {"bridges.nng.sub.*.sub_url", nng_bridge_url},
    {"bridges.nng.rep.*.rep_url", nng_bridge_url},
    {"bridges.nng.pub.*.forwards", nng_bridge_topics},
    {"bridges.nng.sub.*.subscription", nng_bridge_topics},
    {"bridges.nng.rep.*.request_topic", [](const In& in) { nng_bridge(in).request_topic = mqtt_topic_name(in); }},
    {"bridges.nng.rep.*.response_topic", [](const In& in) { nng_bridge(in).response_topic = mqtt_topic_name(in); }},
    {"bridges.nng.rep.*.qos", [](const In& in) { nng_bridge(in).qos = static_cast<int>(in.integer(0, 2)); }},
    {"bridges.nng.rep.*.timeout", [](const In& in) { nng_bridge(in).timeout = in.duration_in(100ms, 1h); }},
    {"gateway.coap.listeners.udp", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.coap.listeners.udp.*", gateway_listener_section, Shape::Section},
    {"gateway.coap.listeners.udp.*.enable",
     [](const In& in) { in.listener().config.enable = in.boolean(); }},
    {"gateway.coap.listeners.udp.*.bind", listener_bind},
    {"gateway.coap.listeners.udp.*.max_connections", max_connections},
    {"gateway.coap.listeners.udp.*.max_conn_rate", max_conn_rate},
    {"gateway.coap.listeners.udp.*.enable_authn", listener_enable_authn},
    {"gateway.coap.connection_required",
     EMQXD_SET(gateway_coap.connection_required, in.boolean())},
    {"gateway.coap.heartbeat", EMQXD_SET(gateway_coap.heartbeat, in.duration_in(1s, 24h))},
    {"gateway.coap.notify_type",
     EMQXD_SET(gateway_coap.notify_type, in.one_of({"qos", "non", "con"}))},
    {"gateway.coap.subscribe_qos",
     EMQXD_SET(gateway_coap.subscribe_qos, in.one_of({"qos0", "qos1", "qos2", "coap"}))},
    {"gateway.coap.publish_qos",
     EMQXD_SET(gateway_coap.publish_qos, in.one_of({"qos0", "qos1", "qos2", "coap"}))},
    {"gateway.stomp.listeners.tcp", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.stomp.listeners.tcp.*", gateway_listener_section, Shape::Section},
    {"gateway.stomp.listeners.tcp.*.enable",
     [](const In& in) { in.listener().config.enable = in.boolean(); }},
    {"gateway.stomp.listeners.tcp.*.bind", listener_bind},
    {"gateway.stomp.listeners.tcp.*.max_connections", max_connections},
    {"gateway.stomp.listeners.tcp.*.max_conn_rate", max_conn_rate},
    {"gateway.stomp.listeners.tcp.*.enable_authn", listener_enable_authn},
    {"gateway.stomp.frame", [](const In& in) { in.object(); }, Shape::Section},
    {"gateway.stomp.frame.max_headers", EMQXD_SET(gateway_stomp.max_headers, in.u32(1, 1000))},
    {"gateway.stomp.frame.max_headers_length",
     EMQXD_SET(gateway_stomp.max_headers_length, in.u32(16, 1 << 20))},
    {"gateway.stomp.frame.max_body_length",
     EMQXD_SET(gateway_stomp.max_body_length, in.u32(0, 256 << 20))},
    {"gateway.mqttsn.listeners.udp.*", gateway_listener_section, Shape::Section},
    {"gateway.mqttsn.listeners.udp.*.enable",
     [](const In& in) { in.listener().config.enable = in.boolean(); }},
    {"gateway.mqttsn.listeners.udp.*.bind", listener_bind},
    {"gateway.mqttsn.listeners.udp.*.max_connections", max_connections},
    {"gateway.mqttsn.listeners.udp.*.max_conn_rate", max_conn_rate},
    {"gateway.mqttsn.listeners.udp.*.enable_authn", listener_enable_authn},
    {"sources", [](const In& in) { in.object(); }, Shape::Section},
    {"sources.*", [](const In& in) { in.object(); }, Shape::Section},
    {"sources.*.*", source_entry},
};

#undef EMQXD_SET

// EMQX 5 keys emqxd does not implement yet (EMQX's config reference, emqx_conf_schema and
// emqx_schema). An operator who migrates an EMQX config must never believe one of these is
// on: each stops start-up. Delete an entry when its feature lands. Keys missing here still
// stop start-up, as unknown keys.
constexpr ForeignKey kNotImplemented[] = {
    // Whole features.
    {"psk_authentication", ""},
    {"rule_engine.jq_function_default_timeout", "emqxd's rules have no jq function"},
    {"rule_engine.jq_implementation_module", "emqxd's rules have no jq function"},
    {"bridges.*", "emqxd has NanoMQ's bridges.nng; EMQX's bridges are its connectors and actions"},
    {"schema_registry", ""},
    {"schema_validation", ""},
    {"message_transformation", ""},
    {"gateway.stomp.listeners.ssl", "STOMP over TLS"},
    {"gateway.stomp.authentication",
     "a gateway's clients are authenticated by the node's chain (authentication = [...])"},
    {"gateway.stomp.listeners.tcp.*.access_rules", ""},
    {"gateway.stomp.listeners.tcp.*.tcp_options", ""},
    {"gateway.coap.listeners.dtls", "CoAP over DTLS"},
    {"gateway.coap.authentication",
     "a gateway's clients are authenticated by the node's chain (authentication = [...])"},
    {"gateway.coap.listeners.udp.*.access_rules", ""},
    {"gateway.coap.listeners.udp.*.udp_options", ""},
    {"gateway.lwm2m.listeners.dtls", "LwM2M over DTLS"},
    {"gateway.lwm2m.authentication",
     "a gateway's clients are authenticated by the node's chain (authentication = [...])"},
    {"gateway.lwm2m.listeners.udp.*.access_rules", ""},
    {"gateway.lwm2m.listeners.udp.*.udp_options", ""},
    {"gateway.lwm2m.blockwise", "Block2 answers are put together; Block1 writes are not sent"},
    {"gateway.exproto", ""},
    {"gateway.ocpp", ""},
    {"gateway.jt808", ""},
    {"gateway.gbt32960", ""},
    {"gateway.mqttsn.listeners.dtls", "MQTT-SN over DTLS"},
    {"gateway.mqttsn.authentication",
     "a gateway's clients are authenticated by the node's chain (authentication = [...])"},
    {"gateway.mqttsn.listeners.udp.*.access_rules", ""},
    {"gateway.mqttsn.listeners.udp.*.udp_options", ""},
    {"exhook", ""},
    {"plugins", ""},
    {"sysmon.os.cpu_check_interval", "the memory watermarks are checked; CPU is not"},
    {"sysmon.os.cpu_high_watermark", "the memory watermarks are checked; CPU is not"},
    {"sysmon.os.cpu_low_watermark", "the memory watermarks are checked; CPU is not"},
    {"sysmon.top", ""},
    {"prometheus.push_gateway", "Prometheus scrapes GET /api/v5/prometheus/stats"},
    {"prometheus.push_gateway_server", "Prometheus scrapes GET /api/v5/prometheus/stats"},
    {"prometheus.enable", "Prometheus scrapes GET /api/v5/prometheus/stats"},
    {"prometheus.interval", "Prometheus scrapes GET /api/v5/prometheus/stats"},
    {"prometheus.headers", "Prometheus scrapes GET /api/v5/prometheus/stats"},
    {"prometheus.job_name", "Prometheus scrapes GET /api/v5/prometheus/stats"},
    {"prometheus.latency_stats", ""},
    {"statsd", ""},
    {"opentelemetry", ""},
    {"telemetry", ""},
    {"limiter", ""},
    {"force_shutdown.max_mailbox_size",
     "what waits for a client is bounded by mqtt.max_mqueue_len and force_shutdown.max_heap_size"},
    {"overload_protection", ""},
    {"conn_congestion", ""},
    {"banned", ""},
    {"crl_cache", ""},
    {"file_transfer", ""},
    {"license", ""},
    {"zones", "set mqtt.* for the whole node"},
    {"broker", ""},
    {"stats", ""},
    {"session_persistence", "see durable_sessions.enable"},
    {"rpc", "cluster traffic is set by cluster.rpc.bind, its TLS by cluster.rpc.ssl"},
    // node
    {"node.role", "every emqxd node is a full node"},
    {"node.etc_dir", ""},
    {"node.config_files", ""},
    {"node.data_dir_perms", ""},
    {"node.applications", ""},
    {"node.cluster_call", ""},
    {"node.default_shutdown_timeout", ""},
    {"node.shutdown_timeout", ""},
    // log
    {"log.audit", ""},
    {"log.throttling", ""},
    {"log.console.chars_limit", ""},
    {"log.console.max_depth", ""},
    {"log.console.single_line", ""},
    {"log.console.payload_encode", ""},
    // mqtt
    {"mqtt.strict_mode", ""},
    {"mqtt.upgrade_qos", ""},
    {"mqtt.mqueue_priorities", ""},
    {"mqtt.mqueue_default_priority", ""},
    {"mqtt.keepalive_check_interval", ""},
    {"mqtt.client_attrs_init", ""},
    {"mqtt.clientid_override", ""},
    {"mqtt.shared_subscription_initial_sticky_pick", ""},
    // listeners
    {"listeners.quic", ""},
    {"listeners.*.*.acceptors", ""},
    {"listeners.*.*.proxy_protocol", ""},
    {"listeners.*.*.proxy_protocol_timeout", ""},
    {"listeners.*.*.access_rules", ""},
    {"listeners.*.*.tcp_options", ""},
    {"listeners.*.*.udp_options", ""},
    {"listeners.*.*.zone", ""},
    {"listeners.*.*.limiter", ""},
    {"listeners.*.*.authentication", "every client is let in"},
    {"listeners.*.*.mountpoint", ""},
    {"listeners.*.*.max_conn_burst", ""},
    {"listeners.*.*.messages_burst", ""},
    {"listeners.*.*.bytes_burst", ""},
    {"listeners.*.*.subscribes_rate", ""},
    {"listeners.*.*.subscribes_burst", ""},
    {"listeners.*.*.ssl_options.password", ""},
    {"listeners.*.*.ssl_options.secure_renegotiate", ""},
    {"listeners.*.*.ssl_options.reuse_sessions", ""},
    {"listeners.*.*.ssl_options.client_renegotiation", ""},
    {"listeners.*.*.ssl_options.handshake_timeout", ""},
    {"listeners.*.*.ssl_options.gc_after_handshake", ""},
    {"listeners.*.*.ssl_options.ocsp", ""},
    {"listeners.*.*.ssl_options.enable_crl_check", ""},
    {"listeners.*.*.ssl_options.hibernate_after", ""},
    {"listeners.*.*.ssl_options.log_level", ""},
    {"listeners.*.*.ssl_options.partial_chain", ""},
    {"listeners.*.*.ssl_options.verify_peer_ext_key_usage", ""},
    {"listeners.*.*.websocket.mqtt_piggyback", ""},
    {"listeners.*.*.websocket.compress", ""},
    {"listeners.*.*.websocket.idle_timeout", ""},
    {"listeners.*.*.websocket.max_frame_size", ""},
    {"listeners.*.*.websocket.fail_if_no_subprotocol", ""},
    {"listeners.*.*.websocket.supported_subprotocols", ""},
    {"listeners.*.*.websocket.check_origin_enable", ""},
    {"listeners.*.*.websocket.allow_origin_absence", ""},
    {"listeners.*.*.websocket.check_origins", ""},
    {"listeners.*.*.websocket.proxy_address_header", ""},
    {"listeners.*.*.websocket.proxy_port_header", ""},
    {"listeners.*.*.websocket.deflate_opts", ""},
    {"listeners.*.*.websocket.validate_utf8", ""},
    // retainer: kept in durable storage (durable_sessions), no other backend
    {"retainer.backend", "retained messages are kept with the durable sessions"},
    {"retainer.flow_control", ""},
    {"retainer.max_publish_rate", ""},
    {"retainer.stop_publish_clear_msg", ""},
    {"retainer.msg_clear_interval", ""},
    {"retainer.delivery_rate", ""},
    // durable sessions: emqxd keeps them its own way (durable_sessions.enable/sync,
    // durable_storage.rocksdb)
    {"durable_sessions.batch_size", ""},
    {"durable_sessions.idle_poll_interval", ""},
    {"durable_sessions.heartbeat_interval", ""},
    {"durable_sessions.renew_streams_interval", ""},
    {"durable_sessions.session_gc_interval", ""},
    {"durable_sessions.session_gc_batch_size", ""},
    {"durable_sessions.subscription_count_refresh_interval", ""},
    {"durable_sessions.disconnected_session_count_refresh_interval", ""},
    {"durable_sessions.message_retention_period", ""},
    {"durable_sessions.force_persistence", ""},
    {"durable_sessions.checkpoint_interval", ""},
    {"durable_sessions.shared_subs", ""},
    {"durable_storage.messages", ""},
    {"durable_storage.sessions", ""},
    {"durable_storage.timers", ""},
    {"durable_storage.shared_subs", ""},
    {"durable_storage.queues", ""},
    // cluster
    {"cluster.mcast", "discovery is manual, static, dns, etcd or k8s"},
    {"cluster.core_nodes", "every emqxd node is a full node"},
    {"cluster.proto_dist", "TLS between nodes is cluster.rpc.ssl"},
    {"cluster.quic_lb_mode", ""},
    {"cluster.prevent_overlapping_partitions", ""},
    {"cluster.links", ""},
    // dashboard: the HTTP API only, no web dashboard
    {"dashboard.listeners.https", "the HTTP API is served over plain HTTP only"},
    {"dashboard.listeners.http.num_acceptors", ""},
    {"dashboard.listeners.http.max_connections", ""},
    {"dashboard.listeners.http.backlog", ""},
    {"dashboard.listeners.http.send_timeout", ""},
    {"dashboard.listeners.http.inet6", ""},
    {"dashboard.listeners.http.ipv6_v6only", ""},
    {"dashboard.listeners.http.proxy_header", ""},
    {"dashboard.cors", ""},
    {"dashboard.sso", ""},
    {"dashboard.i18n_lang", ""},
    {"dashboard.bootstrap_users_file", ""},
    {"dashboard.password_expired_time", ""},
};

// Tuning of EMQX's Erlang VM: nothing in emqxd corresponds, and leaving one in a migrated
// config turns nothing on or off. Warned about and ignored.
constexpr ForeignKey kInert[] = {
    {"node.process_limit", ""},
    {"node.max_ports", ""},
    {"node.dist_buffer_size", ""},
    {"node.max_ets_tables", ""},
    {"node.global_gc_interval", ""},
    {"node.crash_dump_file", ""},
    {"node.crash_dump_seconds", ""},
    {"node.crash_dump_bytes", ""},
    {"node.dist_net_ticktime", ""},
    {"node.backtrace_depth", ""},
    {"node.broker_pool_size", ""},
    {"node.generic_pool_size", ""},
    {"node.channel_cleanup_batch_size", ""},
    {"force_gc", ""},
    {"sysmon.vm", ""},
    {"prometheus.collectors", ""},
    {"prometheus.vm_dist_collector", ""},
    {"prometheus.mnesia_collector", ""},
    {"prometheus.vm_statistics_collector", ""},
    {"prometheus.vm_system_info_collector", ""},
    {"prometheus.vm_memory_collector", ""},
    {"prometheus.vm_msacc_collector", ""},
};

}  // namespace

std::span<const KeySpec> key_table() {
  return kKeys;
}
std::span<const ForeignKey> not_implemented_keys() {
  return kNotImplemented;
}
std::span<const ForeignKey> inert_keys() {
  return kInert;
}

ListenerDraft& In::listener() const {
  // The section entry listeners.<type>.<name> made it when the walk came down here.
  // gateway.<gateway>.listeners.<type>.<name> is a gateway's (gateway_keys.cpp).
  const bool gw = parts[0] == "gateway";
  const std::string& type = gw ? parts[3] : parts[1];
  const std::string& name = gw ? parts[4] : parts[2];
  const std::string gateway = gw ? parts[1] : std::string();
  for (auto it = load.listeners.rbegin(); it != load.listeners.rend(); ++it) {
    if (it->config.type == type && it->config.name == name && it->gateway == gateway) return *it;
  }
  fail("no listener section above this key");  // the walk always passes it first
}

Relation relate(std::string_view pattern, std::span<const std::string> parts) {
  std::size_t i = 0;
  while (!pattern.empty()) {
    if (i == parts.size()) return Relation::Above;
    auto dot = pattern.find('.');
    std::string_view segment = pattern.substr(0, dot);
    pattern = dot == std::string_view::npos ? std::string_view{} : pattern.substr(dot + 1);
    bool match = segment == "*";
    while (!match) {
      auto bar = segment.find('|');
      if (segment.substr(0, bar) == parts[i]) match = true;
      if (bar == std::string_view::npos) break;
      segment.remove_prefix(bar + 1);
    }
    if (!match) return Relation::None;
    ++i;
  }
  return i == parts.size() ? Relation::Exact : Relation::Below;
}

}  // namespace emqxd::config::detail
