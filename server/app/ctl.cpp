// `emqxd ctl`: EMQX's `emqx ctl` verbs over the node's HTTP API. Each verb is one or a few
// requests (the paths of server/api/ops_api.hpp, log_api.hpp, access_api.hpp) and prints
// what EMQX's command prints; --json prints the API's JSON instead (lists: every page's
// "data" as one array).
#include "app/ctl.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <functional>
#include <optional>
#include <string_view>
#include <thread>

#include "app/cluster_cli.hpp"
#include "common/time_text.hpp"

namespace emqxd::app {

namespace json = boost::json;

namespace {

constexpr std::size_t kPageLimit = 1000;
constexpr std::size_t kMaxPages = 100;  // a listing prints at most 100,000 rows

struct Ctl {
  const CtlCommand& command;
  ApiTarget target;
  const std::vector<std::string>& w;  // the words after the verb's name
};

// RFC 3986 unreserved characters as they are, every other byte %XX: a client id or a topic
// as one path segment or query value.
std::string encoded(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string text(const json::value* v) {
  if (v == nullptr || v->is_null()) return "undefined";
  if (v->is_string()) return std::string(v->as_string());
  return json::serialize(*v);
}

std::string field(const json::object& o, std::string_view key) {
  return text(o.if_contains(key));
}

std::optional<json::value> parse(const api::ClientResponse& r) {
  boost::system::error_code ec;
  json::value v = json::parse(r.body, ec);
  if (ec) {
    std::fprintf(stderr, "emqxd: unexpected answer from the node's HTTP API: %s\n",
                 r.body.substr(0, 200).c_str());
    return std::nullopt;
  }
  return v;
}

// GET, parsed; nullopt: the failure was printed and `exit` says how to end.
std::optional<json::value> get(Ctl& c, const std::string& path, int& exit) {
  auto a = call_api(c.target, "GET", path);
  exit = a.exit;
  if (a.exit != kExitOk) return std::nullopt;
  auto v = parse(a.response);
  if (!v) exit = kExitRefused;
  return v;
}

// A request whose answer is a yes or no: prints "ok" (or the JSON with --json).
int act(Ctl& c, const std::string& method, const std::string& path, const json::object& body = {}) {
  auto a = call_api(c.target, method, path, body.empty() ? "" : json::serialize(body));
  if (a.exit != kExitOk) return a.exit;
  if (c.command.json && !a.response.body.empty()) {
    std::printf("%s\n", a.response.body.c_str());
  } else {
    std::printf("ok\n");
  }
  return kExitOk;
}

// Every page of a paged listing (EMQX's meta.hasnext), each row printed by `line`.
int list(Ctl& c, const std::string& path,
         const std::function<std::string(const json::object&)>& line) {
  json::array all;
  const char sep = path.find('?') == std::string::npos ? '?' : '&';
  for (std::size_t page = 1; page <= kMaxPages; ++page) {
    int exit = kExitOk;
    auto v =
        get(c, path + sep + "page=" + std::to_string(page) + "&limit=" + std::to_string(kPageLimit),
            exit);
    if (!v) return exit;
    const auto* data = v->is_object() ? v->as_object().if_contains("data") : nullptr;
    if (data == nullptr || !data->is_array()) return kExitRefused;
    for (const auto& row : data->as_array())
      all.push_back(row);
    const auto* meta = v->as_object().if_contains("meta");
    const json::value* more =
        meta != nullptr && meta->is_object() ? meta->as_object().if_contains("hasnext") : nullptr;
    if (more == nullptr || !more->is_bool() || !more->as_bool()) break;
  }
  if (c.command.json) {
    std::printf("%s\n", json::serialize(all).c_str());
    return kExitOk;
  }
  for (const auto& row : all) {
    if (row.is_object()) std::printf("%s\n", line(row.as_object()).c_str());
  }
  return kExitOk;
}

// Prints a JSON value: as it is with --json, else by `render`.
int show(Ctl& c, const std::string& path, const std::function<void(const json::value&)>& render) {
  int exit = kExitOk;
  auto v = get(c, path, exit);
  if (!v) return exit;
  if (c.command.json) {
    std::printf("%s\n", json::serialize(*v).c_str());
  } else {
    render(*v);
  }
  return kExitOk;
}

// "name : value" lines, the names padded to one width (EMQX's `broker stats`).
void print_pairs(const json::object& o) {
  std::size_t width = 0;
  for (const auto& kv : o)
    width = std::max(width, kv.key().size());
  for (const auto& kv : o) {
    std::printf("%-*s : %s\n", static_cast<int>(width), std::string(kv.key()).c_str(),
                text(&kv.value()).c_str());
  }
}

std::string client_line(const json::object& o) {
  return "Client(" + field(o, "clientid") + ", username=" + field(o, "username") +
         ", peername=" + field(o, "ip_address") + ":" + field(o, "port") +
         ", node=" + field(o, "node") + ", proto_name=" + field(o, "proto_name") +
         ", clean_start=" + field(o, "clean_start") + ", keepalive=" + field(o, "keepalive") +
         ", session_expiry_interval=" + field(o, "expiry_interval") +
         ", subscriptions=" + field(o, "subscriptions_cnt") +
         ", inflight=" + field(o, "inflight_cnt") +
         ", awaiting_rel=" + field(o, "awaiting_rel_cnt") + ", mqueue=" + field(o, "mqueue_len") +
         ", connected=" + field(o, "connected") + ", created_at=" + field(o, "created_at") +
         (o.contains("connected_at") ? ", connected_at=" + field(o, "connected_at") : "") + ")";
}

std::string subscription_line(const json::object& o) {
  return field(o, "clientid") + " -> topic:" + field(o, "topic") + " qos:" + field(o, "qos") +
         " nl:" + field(o, "nl") + " rh:" + field(o, "rh") + " rap:" + field(o, "rap") +
         " node:" + field(o, "node");
}

std::string topic_line(const json::object& o) {
  return field(o, "topic") + " -> " + field(o, "node");
}

std::string ban_line(const json::object& o) {
  return "Banned(" + field(o, "as") + "=" + field(o, "who") + ", by=" + field(o, "by") +
         ", reason=" + field(o, "reason") + ", at=" + field(o, "at") +
         ", until=" + field(o, "until") + ")";
}

std::string trace_line(const json::object& o) {
  const std::string type = field(o, "type");
  return "Trace(" + field(o, "name") + ", " + type + "=" + field(o, type) +
         ", status=" + field(o, "status") + ", start_at=" + field(o, "start_at") +
         ", end_at=" + field(o, "end_at") + ")";
}

// This node's name, from GET /api/v5/cluster.
std::optional<std::string> self_name(Ctl& c, int& exit) {
  auto v = get(c, "/api/v5/cluster", exit);
  if (!v) return std::nullopt;
  const auto* self = v->is_object() ? v->as_object().if_contains("self") : nullptr;
  if (self == nullptr || !self->is_string()) {
    exit = kExitRefused;
    return std::nullopt;
  }
  return std::string(self->as_string());
}

std::optional<std::uint64_t> seconds_of(const std::string& s) {
  if (s.empty() || s.size() > 10 || s.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoull(s);
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `rebalance start --evacuation [flags]` (EMQX's flags, and --wait): the start request's
// JSON, and whether to wait; nullopt (the usage printed) for anything else.
struct EvacuationStart {
  json::object body;
  bool wait = false;
};
std::optional<EvacuationStart> evacuation_flags(const std::vector<std::string>& w) {
  EvacuationStart out;
  bool evacuation = false;
  for (std::size_t i = 0; i < w.size(); ++i) {
    const std::string& f = w[i];
    if (f == "--evacuation") {
      evacuation = true;
    } else if (f == "--wait") {
      out.wait = true;
    } else if ((f == "--wait-health-check" || f == "--wait-takeover" || f == "--conn-evict-rate" ||
                f == "--sess-evict-rate") &&
               i + 1 < w.size() && seconds_of(w[i + 1])) {
      std::string key = f.substr(2);
      std::replace(key.begin(), key.end(), '-', '_');
      out.body[key] = *seconds_of(w[++i]);
    } else if (f == "--redirect-to" && i + 1 < w.size()) {
      out.body["redirect_to"] = w[++i];
    } else if (f == "--migrate-to" && i + 1 < w.size()) {
      json::array nodes;  // the node refuses it, saying why
      nodes.push_back(json::value(w[++i]));
      out.body["migrate_to"] = std::move(nodes);
    } else {
      std::fprintf(stderr, "emqxd: %s: not a flag of rebalance start (or a value is missing)\n",
                   f.c_str());
      return std::nullopt;
    }
  }
  if (!evacuation) {
    std::fprintf(stderr,
                 "emqxd: rebalance start needs --evacuation (load rebalancing between nodes is "
                 "not in emqxd)\n");
    return std::nullopt;
  }
  return out;
}

// Until this node's evacuation is done (state prohibiting): a Kubernetes preStop hook
// waits here before the pod is stopped. 0 when done; non-zero when it ended otherwise.
int wait_evacuated(Ctl& c) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::hours(1);
  std::string last;
  while (std::chrono::steady_clock::now() < until) {
    int exit = kExitOk;
    auto v = get(c, "/api/v5/load_rebalance/status", exit);
    if (!v) return exit;
    const std::string state = v->is_object() ? field(v->as_object(), "state") : "";
    if (state != last && !state.empty()) {
      std::printf("evacuation: %s\n", state.c_str());
      std::fflush(stdout);
      last = state;
    }
    if (state == "prohibiting") return kExitOk;
    if (state.empty()) {
      std::fprintf(stderr, "emqxd: the evacuation was stopped before it was done\n");
      return kExitRefused;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  return kExitRefused;
}

// ------------------------------------------------------------------ the verbs

struct Verb {
  std::string name;  // "clients list"
  std::string args;  // "<ClientId>"
  std::string help;
  std::size_t min_args;
  std::size_t max_args;
  std::function<int(Ctl&)> run;
};

const std::vector<Verb>& verbs() {
  static const std::vector<Verb> all = {
      {"status", "", "whether the node runs", 0, 0,
       [](Ctl& c) {
         auto a = call_api(c.target, "GET", "/status");
         if (a.exit != kExitOk) return a.exit;
         std::printf("%s\n", message_of(a.response).c_str());
         return kExitOk;
       }},
      {"broker", "", "the node: version, uptime, connections", 0, 0,
       [](Ctl& c) {
         int exit = kExitOk;
         auto self = self_name(c, exit);
         if (!self) return exit;
         return show(c, "/api/v5/nodes/" + encoded(*self), [](const json::value& v) {
           if (!v.is_object()) return;
           const auto& o = v.as_object();
           json::object out{
               {"sysdescr", "emqxd"},
               {"version", o.contains("version") ? o.at("version") : json::value()},
               {"datetime", time_text::rfc3339(now_s())},
               {"uptime", o.contains("uptime") ? o.at("uptime") : json::value()},
               {"node", o.contains("node") ? o.at("node") : json::value()},
               {"connections", o.contains("connections") ? o.at("connections") : json::value()}};
           if (auto* up = out.if_contains("uptime"); up != nullptr && up->is_number()) {
             const auto s = up->to_number<std::int64_t>() / 1000;
             *up = std::to_string(s / 86400) + " days, " + std::to_string(s / 3600 % 24) +
                   " hours, " + std::to_string(s / 60 % 60) + " minutes, " +
                   std::to_string(s % 60) + " seconds";
           }
           print_pairs(out);
         });
       }},
      {"broker stats", "", "the node's gauges (EMQX's names)", 0, 0,
       [](Ctl& c) {
         int exit = kExitOk;
         auto self = self_name(c, exit);
         if (!self) return exit;
         return show(c, "/api/v5/nodes/" + encoded(*self) + "/stats", [](const json::value& v) {
           if (v.is_object()) print_pairs(v.as_object());
         });
       }},
      {"broker metrics", "", "the node's counters (EMQX's names)", 0, 0,
       [](Ctl& c) {
         int exit = kExitOk;
         auto self = self_name(c, exit);
         if (!self) return exit;
         return show(c, "/api/v5/nodes/" + encoded(*self) + "/metrics", [](const json::value& v) {
           if (v.is_object()) print_pairs(v.as_object());
         });
       }},
      {"clients list", "", "every client of the cluster", 0, 0,
       [](Ctl& c) { return list(c, "/api/v5/clients", client_line); }},
      {"clients show", "<ClientId>", "one client", 1, 1,
       [](Ctl& c) {
         return show(c, "/api/v5/clients/" + encoded(c.w[0]), [](const json::value& v) {
           if (v.is_object()) std::printf("%s\n", client_line(v.as_object()).c_str());
         });
       }},
      {"clients kick", "<ClientId>", "disconnect a client and end its session", 1, 1,
       [](Ctl& c) { return act(c, "DELETE", "/api/v5/clients/" + encoded(c.w[0])); }},
      {"subscriptions list", "", "every subscription of the cluster", 0, 0,
       [](Ctl& c) { return list(c, "/api/v5/subscriptions", subscription_line); }},
      {"subscriptions show", "<ClientId>", "a client's subscriptions", 1, 1,
       [](Ctl& c) {
         return show(c, "/api/v5/clients/" + encoded(c.w[0]) + "/subscriptions",
                     [](const json::value& v) {
                       if (!v.is_array()) return;
                       for (const auto& s : v.as_array()) {
                         if (s.is_object()) {
                           std::printf("%s\n", subscription_line(s.as_object()).c_str());
                         }
                       }
                     });
       }},
      {"subscriptions add", "<ClientId> <Topic> <QoS>", "subscribe a connected client", 3, 3,
       [](Ctl& c) {
         if (c.w[2] != "0" && c.w[2] != "1" && c.w[2] != "2") {
           std::fprintf(stderr, "emqxd: QoS must be 0, 1 or 2\n");
           return kExitUsage;
         }
         return act(c, "POST", "/api/v5/clients/" + encoded(c.w[0]) + "/subscribe",
                    {{"topic", c.w[1]}, {"qos", c.w[2][0] - '0'}});
       }},
      {"subscriptions del", "<ClientId> <Topic>", "unsubscribe a connected client", 2, 2,
       [](Ctl& c) {
         return act(c, "POST", "/api/v5/clients/" + encoded(c.w[0]) + "/unsubscribe",
                    {{"topic", c.w[1]}});
       }},
      {"topics list", "", "every route: topic filter and node", 0, 0,
       [](Ctl& c) { return list(c, "/api/v5/topics", topic_line); }},
      {"topics show", "<Topic>", "the routes of one topic filter", 1, 1,
       [](Ctl& c) { return list(c, "/api/v5/topics?topic=" + encoded(c.w[0]), topic_line); }},
      {"listeners", "", "the MQTT listeners: address, state, connections", 0, 0,
       [](Ctl& c) {
         return show(c, "/api/v5/listeners", [](const json::value& v) {
           if (!v.is_array()) return;
           for (const auto& l : v.as_array()) {
             if (!l.is_object()) continue;
             const auto& o = l.as_object();
             std::printf("%s\n", field(o, "id").c_str());
             print_pairs(json::object{{"  listen_on", field(o, "bind")},
                                      {"  acceptors", field(o, "acceptors")},
                                      {"  running", field(o, "running")},
                                      {"  current_conn", field(o, "current_connections")},
                                      {"  max_conns", field(o, "max_connections")}});
           }
         });
       }},
      {"listeners stop", "<Id>", "stop accepting on every node (type:name, e.g. tcp:default)", 1, 1,
       [](Ctl& c) { return act(c, "POST", "/api/v5/listeners/" + encoded(c.w[0]) + "/stop"); }},
      {"listeners start", "<Id>", "accept again on every node", 1, 1,
       [](Ctl& c) { return act(c, "POST", "/api/v5/listeners/" + encoded(c.w[0]) + "/start"); }},
      {"listeners restart", "<Id>", "stop, then start", 1, 1,
       [](Ctl& c) { return act(c, "POST", "/api/v5/listeners/" + encoded(c.w[0]) + "/restart"); }},
      {"log set-level", "<Level>", "every log handler's level and the primary level", 1, 1,
       [](Ctl& c) {
         return act(c, "PUT", "/api/v5/log/level", {{"level", c.w[0]}});
       }},
      {"log primary-level", "<Level>", "the primary log level", 1, 1,
       [](Ctl& c) {
         return act(c, "PUT", "/api/v5/log/primary_level", {{"level", c.w[0]}});
       }},
      {"traces list", "", "the log traces", 0, 0,
       [](Ctl& c) {
         return show(c, "/api/v5/trace", [](const json::value& v) {
           if (!v.is_array()) return;
           for (const auto& t : v.as_array()) {
             if (t.is_object()) std::printf("%s\n", trace_line(t.as_object()).c_str());
           }
         });
       }},
      {"traces start", "<Name> client|topic|ip_address <Value> [<Seconds>]",
       "trace a client, topic or address on every node (default: 10 minutes)", 3, 4,
       [](Ctl& c) {
         std::string type = c.w[1] == "client" ? "clientid" : c.w[1];
         if (type != "clientid" && type != "topic" && type != "ip_address") {
           std::fprintf(stderr, "emqxd: the trace type must be client, topic or ip_address\n");
           return kExitUsage;
         }
         auto seconds = c.w.size() > 3 ? seconds_of(c.w[3]) : std::optional<std::uint64_t>(600);
         if (!seconds || *seconds == 0) {
           std::fprintf(stderr, "emqxd: <Seconds> must be a positive whole number\n");
           return kExitUsage;
         }
         return act(c, "POST", "/api/v5/trace",
                    {{"name", c.w[0]},
                     {"type", type},
                     {type, c.w[2]},
                     {"end_at", now_s() + static_cast<std::int64_t>(*seconds)}});
       }},
      {"traces stop", "<Name>", "stop a trace (its files stay)", 1, 1,
       [](Ctl& c) { return act(c, "PUT", "/api/v5/trace/" + encoded(c.w[0]) + "/stop"); }},
      {"traces delete", "<Name>", "delete a trace and its files", 1, 1,
       [](Ctl& c) { return act(c, "DELETE", "/api/v5/trace/" + encoded(c.w[0])); }},
      {"retainer info", "", "the number of retained messages", 0, 0,
       [](Ctl& c) {
         return show(c, "/api/v5/mqtt/retainer/messages?limit=1", [](const json::value& v) {
           const json::value* count = nullptr;
           if (v.is_object()) {
             if (const auto* m = v.as_object().if_contains("meta"); m != nullptr && m->is_object())
               count = m->as_object().if_contains("count");
           }
           std::printf("Number of retained messages: %s\n", text(count).c_str());
         });
       }},
      {"retainer topics", "", "the topics of the retained messages", 0, 0,
       [](Ctl& c) {
         return list(c, "/api/v5/mqtt/retainer/messages",
                     [](const json::object& o) { return field(o, "topic"); });
       }},
      {"retainer clean", "[<TopicFilter>]", "clear every retained message, or the matching ones", 0,
       1,
       [](Ctl& c) {
         std::string path = "/api/v5/mqtt/retainer/messages";
         if (!c.w.empty()) path += "?topic=" + encoded(c.w[0]);
         auto a = call_api(c.target, "DELETE", path);
         if (a.exit != kExitOk) return a.exit;
         if (c.command.json) {
           std::printf("%s\n", a.response.body.c_str());
           return kExitOk;
         }
         auto v = parse(a.response);
         const json::value* n =
             v && v->is_object() ? v->as_object().if_contains("cleared") : nullptr;
         std::printf("Cleared %s retained messages\n", text(n).c_str());
         return kExitOk;
       }},
      {"admins add", "<Username> <Password> [<Description>] [administrator|viewer]",
       "add a dashboard user", 2, 4,
       [](Ctl& c) {
         json::object body{{"username", c.w[0]}, {"password", c.w[1]}};
         if (c.w.size() > 2) body["description"] = c.w[2];
         if (c.w.size() > 3) body["role"] = c.w[3];
         return act(c, "POST", "/api/v5/users", body);
       }},
      {"admins passwd", "<Username> <Password>", "set a dashboard user's password", 2, 2,
       [](Ctl& c) {
         json::object body{{"new_pwd", c.w[1]}};
         // One's own password needs the old one (EMQX's rule): the one ctl logs in with.
         if (c.w[0] == c.target.username) body["old_pwd"] = c.target.password;
         return act(c, "POST", "/api/v5/users/" + encoded(c.w[0]) + "/change_pwd", body);
       }},
      {"admins del", "<Username>", "delete a dashboard user", 1, 1,
       [](Ctl& c) { return act(c, "DELETE", "/api/v5/users/" + encoded(c.w[0])); }},
      {"rebalance start",
       "--evacuation [--wait-health-check <Secs>] [--conn-evict-rate <N>] "
       "[--sess-evict-rate <N>] [--wait-takeover <Secs>] [--redirect-to <Host:Port>] [--wait]",
       "evacuate this node: refuse new clients, send its clients to the other nodes (--wait: "
       "until done)",
       1, 13,
       [](Ctl& c) {
         auto flags = evacuation_flags(c.w);
         if (!flags) return kExitUsage;
         int exit = kExitOk;
         auto self = self_name(c, exit);
         if (!self) return exit;
         exit = act(c, "POST", "/api/v5/load_rebalance/" + encoded(*self) + "/evacuation/start",
                    flags->body);
         if (exit != kExitOk || !flags->wait) return exit;
         return wait_evacuated(c);
       }},
      {"rebalance stop", "", "end this node's evacuation: it takes clients again", 0, 0,
       [](Ctl& c) {
         int exit = kExitOk;
         auto self = self_name(c, exit);
         if (!self) return exit;
         return act(c, "POST", "/api/v5/load_rebalance/" + encoded(*self) + "/evacuation/stop");
       }},
      {"rebalance node-status", "", "this node's evacuation: state and counts", 0, 0,
       [](Ctl& c) {
         return show(c, "/api/v5/load_rebalance/status", [](const json::value& v) {
           if (!v.is_object()) return;
           json::object flat;
           for (const auto& kv : v.as_object()) {
             if (kv.value().is_object()) {
               for (const auto& s : kv.value().as_object())
                 flat[s.key()] = s.value();
             } else {
               flat[kv.key()] = kv.value();
             }
           }
           print_pairs(flat);
         });
       }},
      {"rules list", "", "the rules, oldest first", 0, 0,
       [](Ctl& c) {
         return show(c, "/api/v5/rules", [](const json::value& v) {
           const auto* data = v.is_object() ? v.as_object().if_contains("data") : nullptr;
           if (data == nullptr || !data->is_array()) return;
           std::vector<const json::object*> rules;
           for (const auto& r : data->as_array()) {
             if (r.is_object()) rules.push_back(&r.as_object());
           }
           std::stable_sort(rules.begin(), rules.end(), [](auto* a, auto* b) {
             return field(*a, "created_at") < field(*b, "created_at");
           });
           for (const auto* r : rules) {
             std::printf("Rule{id=%s, name=%s, enabled=%s, descr=%s}\n", field(*r, "id").c_str(),
                         field(*r, "name").c_str(), field(*r, "enable").c_str(),
                         field(*r, "description").c_str());
           }
         });
       }},
      {"rules show", "<RuleID>", "a rule: its SQL and actions", 1, 1,
       [](Ctl& c) {
         return show(c, "/api/v5/rules/" + encoded(c.w[0]), [](const json::value& v) {
           if (!v.is_object()) return;
           const auto& r = v.as_object();
           auto pad = [](std::string s) {  // EMQX's left_pad: continuation lines indented
             for (std::size_t i = s.find('\n'); i != std::string::npos; i = s.find('\n', i + 3))
               s.replace(i, 1, "\n  ");
             return s;
           };
           std::string actions;
           if (const auto* a = r.if_contains("actions"); a != nullptr && a->is_array()) {
             for (const auto& x : a->as_array()) {
               if (x.is_string()) {
                 const std::string ref(x.as_string());
                 const auto colon = ref.find(':');
                 actions += pad("- Name:         " + ref.substr(colon + 1) + "\n  Action Type:  " +
                                ref.substr(0, colon) + "\n  Type:         data-bridge\n");
               } else if (x.is_object()) {
                 actions +=
                     pad("- Name:  " + field(x.as_object(), "function") +
                         "\n  Type:  function\n  Args:  " + field(x.as_object(), "args") + "\n");
               }
             }
           }
           std::printf(
               "Id:\n  %s\nName:\n  %s\nDescription:\n  %s\nEnabled:\n  %s\nSQL:\n  %s\n"
               "Created at:\n  %s\nActions:\n  %s\n",
               field(r, "id").c_str(), field(r, "name").c_str(),
               pad(field(r, "description")).c_str(), field(r, "enable").c_str(),
               pad(field(r, "sql")).c_str(), field(r, "created_at").c_str(), actions.c_str());
         });
       }},
      {"banned list", "", "the banned clients, users and addresses", 0, 0,
       [](Ctl& c) { return list(c, "/api/v5/banned", ban_line); }},
      {"banned add", "clientid|username|peerhost <Who> [<Reason>] [<Seconds>]",
       "ban (default: for ever)", 2, 4,
       [](Ctl& c) {
         json::object body{{"as", c.w[0]}, {"who", c.w[1]}, {"by", "emqxd ctl"}};
         if (c.w.size() > 2) body["reason"] = c.w[2];
         if (c.w.size() > 3) {
           auto seconds = seconds_of(c.w[3]);
           if (!seconds || *seconds == 0) {
             std::fprintf(stderr, "emqxd: <Seconds> must be a positive whole number\n");
             return kExitUsage;
           }
           body["until"] = time_text::rfc3339(now_s() + static_cast<std::int64_t>(*seconds));
         }
         return act(c, "POST", "/api/v5/banned", body);
       }},
      {"banned del", "clientid|username|peerhost <Who>", "lift a ban", 2, 2,
       [](Ctl& c) {
         return act(c, "DELETE", "/api/v5/banned/" + encoded(c.w[0]) + "/" + encoded(c.w[1]));
       }},
  };
  return all;
}

void print_usage(std::FILE* out) {
  std::fprintf(out, "emqxd ctl [--api HOST:PORT] [-c FILE] [--json] VERB ...\n\n");
  std::size_t width = 0;
  for (const auto& v : verbs())
    width = std::max(width, v.name.size() + (v.args.empty() ? 0 : v.args.size() + 1));
  auto line = [&](const std::string& usage, const std::string& help) {
    std::fprintf(out, "  %-*s  %s\n", static_cast<int>(width), usage.c_str(), help.c_str());
  };
  for (const auto& v : verbs())
    line(v.name + (v.args.empty() ? "" : " " + v.args), v.help);
  line("cluster status|join|leave|force-leave", "as `emqxd cluster`");
}

}  // namespace

int run_ctl(const CtlCommand& command, const std::map<std::string, std::string>& env) {
  const auto& words = command.words;
  if (words.empty() || words[0] == "help") {
    print_usage(words.empty() ? stderr : stdout);
    return words.empty() ? kExitUsage : kExitOk;
  }
  if (words[0] == "cluster") {
    ClusterCommand cc;
    cc.api_options = command.api_options;
    cc.json = command.json;
    cc.action = words.size() > 1 ? words[1] : "status";
    if (cc.action == "join" || cc.action == "force-leave") {
      if (words.size() != 3) {
        std::fprintf(stderr, "emqxd: usage: emqxd ctl cluster %s <Node>\n", cc.action.c_str());
        return kExitUsage;
      }
      cc.node = words[2];
    } else if ((cc.action != "status" && cc.action != "leave") || words.size() > 2) {
      std::fprintf(stderr, "emqxd: usage: emqxd ctl cluster status|join|leave|force-leave\n");
      return kExitUsage;
    }
    return run_cluster_command(cc, env);
  }
  // The longest verb the words begin with: "broker stats" before "broker".
  const Verb* verb = nullptr;
  std::size_t used = 0;
  for (const auto& v : verbs()) {
    std::size_t n = 1 + static_cast<std::size_t>(std::count(v.name.begin(), v.name.end(), ' '));
    if (n > words.size() || n <= used) continue;
    std::string joined = words[0];
    for (std::size_t i = 1; i < n; ++i)
      joined += " " + words[i];
    if (joined == v.name) {
      verb = &v;
      used = n;
    }
  }
  if (verb == nullptr) {
    std::fprintf(stderr, "emqxd: unknown ctl command \"%s\"; `emqxd ctl help` lists them\n",
                 words[0].c_str());
    return kExitUsage;
  }
  const std::vector<std::string> rest(words.begin() + static_cast<std::ptrdiff_t>(used),
                                      words.end());
  if (rest.size() < verb->min_args || rest.size() > verb->max_args) {
    std::fprintf(stderr, "emqxd: usage: emqxd ctl %s%s\n", verb->name.c_str(),
                 verb->args.empty() ? "" : (" " + verb->args).c_str());
    return kExitUsage;
  }
  auto target = resolve_api(command.api_options, env);
  if (!target) return kExitUsage;
  Ctl ctl{command, *target, rest};
  return verb->run(ctl);
}

}  // namespace emqxd::app
