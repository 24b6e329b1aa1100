#include "api/node_ops.hpp"

#include <openssl/rand.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <optional>

#include "api/alarms.hpp"
#include "api/router.hpp"
#include "auth/base64.hpp"
#include "broker/topic.hpp"
#include "common/log.hpp"
#include "common/proc_stats.hpp"
#include "common/time_text.hpp"
#include "net/listener.hpp"
#include "net/node_counters.hpp"
#include "net/worker.hpp"
#include "session/channel.hpp"
#include "session/node_state.hpp"
#include "session/worker_core.hpp"

namespace emqxd::api {

namespace json = boost::json;
using session::Session;
using session::WorkerCore;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("api");
  return l;
}

NodeAnswer client_not_found() {
  return error_answer(404, "CLIENTID_NOT_FOUND", "Client ID not found");
}

// ------------------------------------------------------------------ arguments

const json::value* arg(const json::object& a, std::string_view key) {
  return a.if_contains(key);
}

std::optional<std::string> string_arg(const json::object& a, std::string_view key) {
  const auto* v = arg(a, key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

std::optional<std::int64_t> int_arg(const json::object& a, std::string_view key) {
  const auto* v = arg(a, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    return static_cast<std::int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

std::optional<bool> bool_arg(const json::object& a, std::string_view key) {
  const auto* v = arg(a, key);
  if (v == nullptr || !v->is_bool()) return std::nullopt;
  return v->as_bool();
}

std::vector<std::string> strings_arg(const json::object& a, std::string_view key) {
  std::vector<std::string> out;
  const auto* v = arg(a, key);
  if (v != nullptr && v->is_array()) {
    for (const auto& x : v->as_array()) {
      if (x.is_string()) out.emplace_back(x.as_string());
    }
  }
  return out;
}

// offset (>= 0) and limit (0..kMaxLimit) of a listing.
void window(const json::object& a, std::size_t& offset, std::size_t& limit) {
  offset = static_cast<std::size_t>(std::max<std::int64_t>(0, int_arg(a, "offset").value_or(0)));
  limit = static_cast<std::size_t>(
      std::clamp<std::int64_t>(int_arg(a, "limit").value_or(100), 0, NodeOps::kMaxLimit));
}

// ------------------------------------------------------------------ workers

// Runs f(core) on the worker and waits for it, at most kWorkerWait; nullopt when it did
// not answer (shutting down) or f threw.
template <class R, class F>
std::optional<R> on_worker(net::Worker* w, F f) {
  auto p = std::make_shared<std::promise<R>>();
  auto fut = p->get_future();
  w->post([p, f = std::move(f), core = &w->core()]() mutable {
    try {
      p->set_value(f(*core));
    } catch (...) {
      p->set_exception(std::current_exception());
    }
  });
  if (fut.wait_for(NodeOps::kWorkerWait) != std::future_status::ready) return std::nullopt;
  try {
    return fut.get();
  } catch (const std::exception& e) {
    logger()->warn("API operation failed on a worker: {}", e.what());
    return std::nullopt;
  }
}

// f(core) on every worker at once; the answers in worker order, missing ones left out.
template <class R, class F>
std::vector<R> on_workers(const std::vector<net::Worker*>& ws, F f) {
  std::vector<std::future<R>> futs;
  for (auto* w : ws) {
    auto p = std::make_shared<std::promise<R>>();
    futs.push_back(p->get_future());
    w->post([p, f, core = &w->core()]() mutable {
      try {
        p->set_value(f(*core));
      } catch (...) {
        p->set_exception(std::current_exception());
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + NodeOps::kWorkerWait;
  std::vector<R> out;
  for (auto& fut : futs) {
    if (fut.wait_until(deadline) != std::future_status::ready) continue;
    try {
      out.push_back(fut.get());
    } catch (const std::exception& e) {
      logger()->warn("API operation failed on a worker: {}", e.what());
    }
  }
  return out;
}

// Where the session of `client_id` is on this node, if it is.
std::optional<session::SessionRegistry::Entry> locate(session::NodeState& node,
                                                      const std::string& client_id) {
  std::lock_guard lock(node.registry.mutex);
  auto it = node.registry.entries.find(client_id);
  if (it == node.registry.entries.end()) return std::nullopt;
  return it->second;
}

// ------------------------------------------------------------------ clients

// "1.2.3.4:5678", "[::1]:5678" -> host and port.
std::pair<std::string, int> split_peer(std::string_view peer) {
  auto colon = peer.rfind(':');
  if (colon == std::string_view::npos) return {std::string(peer), 0};
  std::string host(peer.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return {host, std::atoi(std::string(peer.substr(colon + 1)).c_str())};
}

// What a session shows of its connection: the live one, or the last one.
struct Facts {
  bool connected = false;
  const std::optional<std::string>* username = nullptr;
  std::string_view peer;
  int proto_ver = 0;
  bool clean_start = false;
  std::uint16_t keepalive = 0;
  std::int64_t connected_at = 0, disconnected_at = 0;
};

Facts facts_of(const Session& s) {
  static const std::optional<std::string> none;
  Facts f;
  f.username = &none;
  if (const auto* ch = s.channel) {
    f.connected = true;
    f.username = &ch->username();
    f.peer = ch->host().peer();
    f.proto_ver = static_cast<int>(ch->version());
    f.clean_start = ch->clean_start();
    f.keepalive = ch->keep_alive();
    f.connected_at = ch->connected_at_ms();
  } else if (s.last) {
    f.username = &s.last->username;
    f.peer = s.last->peer;
    f.proto_ver = s.last->proto_ver;
    f.clean_start = s.last->clean_start;
    f.keepalive = s.last->keepalive;
    f.connected_at = s.last->connected_at_ms;
    f.disconnected_at = s.last->disconnected_at_ms;
  }
  return f;
}

// EMQX's query of /api/v5/clients, as the API sends it (clients_api.cpp).
struct ClientFilter {
  std::vector<std::string> clientid, username;
  std::optional<std::string> ip_address, conn_state, like_clientid, like_username;
  std::optional<bool> clean_start;
  std::optional<std::int64_t> proto_ver, gte_created_at, lte_created_at, gte_connected_at,
      lte_connected_at;
  // A gateway's clients (api/gateways_api.cpp): "MQTT-SN", ...; a session without its
  // connection is MQTT's.
  std::optional<std::string> proto_name;

  explicit ClientFilter(const json::object& a)
      : clientid(strings_arg(a, "clientid")),
        username(strings_arg(a, "username")),
        ip_address(string_arg(a, "ip_address")),
        conn_state(string_arg(a, "conn_state")),
        like_clientid(string_arg(a, "like_clientid")),
        like_username(string_arg(a, "like_username")),
        clean_start(bool_arg(a, "clean_start")),
        proto_ver(int_arg(a, "proto_ver")),
        gte_created_at(int_arg(a, "gte_created_at")),
        lte_created_at(int_arg(a, "lte_created_at")),
        gte_connected_at(int_arg(a, "gte_connected_at")),
        lte_connected_at(int_arg(a, "lte_connected_at")),
        proto_name(string_arg(a, "proto_name")) {}

  bool matches(const Session& s) const {
    const std::string& id = s.client_id();
    if (!clientid.empty() && std::find(clientid.begin(), clientid.end(), id) == clientid.end()) {
      return false;
    }
    if (like_clientid && id.find(*like_clientid) == std::string::npos) return false;
    if (gte_created_at && s.created_at_ms < *gte_created_at) return false;
    if (lte_created_at && s.created_at_ms > *lte_created_at) return false;
    const Facts f = facts_of(s);
    const auto& user = *f.username;
    if (!username.empty() &&
        (!user || std::find(username.begin(), username.end(), *user) == username.end())) {
      return false;
    }
    if (like_username && (!user || user->find(*like_username) == std::string::npos)) return false;
    if (conn_state && *conn_state != (f.connected ? "connected" : "disconnected")) return false;
    if (clean_start && *clean_start != f.clean_start) return false;
    if (proto_ver && *proto_ver != f.proto_ver) return false;
    if (proto_name && *proto_name != (s.channel != nullptr ? s.channel->host().proto_name()
                                                           : std::string_view("MQTT"))) {
      return false;
    }
    if (ip_address && split_peer(f.peer).first != *ip_address) return false;
    if (gte_connected_at && f.connected_at < *gte_connected_at) return false;
    if (lte_connected_at && f.connected_at > *lte_connected_at) return false;
    return true;
  }
};

json::value limit_value(std::uint64_t v) {
  return v == 0 ? json::value("infinity") : json::value(v);
}

// EMQX's client object (emqx_mgmt_api_clients, "client"), of what emqxd knows. Worker thread.
json::object client_json(const Session& s, const session::NodeState& node) {
  const auto& mq = node.config.mqtt;
  const Facts f = facts_of(s);
  auto [host, port] = split_peer(f.peer);
  json::object o;
  o["clientid"] = s.client_id();
  o["username"] = *f.username ? json::value(**f.username) : json::value(nullptr);
  o["node"] = node.config.node.name;
  o["ip_address"] = host;
  o["port"] = port;
  o["proto_name"] = "MQTT";
  o["proto_ver"] = f.proto_ver;
  if (s.channel != nullptr && !s.channel->host().proto_ver().empty()) {
    // A gateway's client (gateways/): its own protocol, as EMQX's gateway clients show it.
    o["proto_name"] = s.channel->host().proto_name();
    o["proto_ver"] = s.channel->host().proto_ver();
  }
  o["connected"] = f.connected;
  o["clean_start"] = f.clean_start;
  o["keepalive"] = f.keepalive;
  o["expiry_interval"] = s.expiry_interval;
  o["created_at"] = time_text::rfc3339_ms(s.created_at_ms);
  if (f.connected_at != 0) o["connected_at"] = time_text::rfc3339_ms(f.connected_at);
  if (!f.connected && f.disconnected_at != 0) {
    o["disconnected_at"] = time_text::rfc3339_ms(f.disconnected_at);
  }
  o["is_bridge"] = false;
  o["is_expired"] = false;
  o["durable"] = s.store_uid != 0;
  o["mountpoint"] = nullptr;
  o["subscriptions_cnt"] = s.subscriptions.size();
  o["subscriptions_max"] = limit_value(mq.max_subscriptions);
  o["inflight_cnt"] = s.inflight.size();
  o["inflight_max"] = mq.max_inflight;
  o["mqueue_len"] = s.queue.size();
  o["mqueue_max"] = limit_value(mq.max_mqueue_len);
  o["awaiting_rel_cnt"] = s.awaiting_rel.size();
  o["awaiting_rel_max"] = limit_value(mq.max_awaiting_rel);
  if (const auto* ch = s.channel) {
    // EMQX's per-connection counters; a session without a connection has none.
    const auto& c = ch->stats();
    o["recv_oct"] = c.recv_oct;
    o["recv_cnt"] = c.recv_cnt;
    o["recv_pkt"] = c.recv_pkt;
    o["recv_msg"] = c.recv_msg;
    o["recv_msg.qos0"] = c.recv_msg - c.recv_qos1 - c.recv_qos2;
    o["recv_msg.qos1"] = c.recv_qos1;
    o["recv_msg.qos2"] = c.recv_qos2;
    o["recv_msg.dropped"] = std::uint64_t{c.recv_dropped} + c.recv_dropped_await_pubrel;
    o["recv_msg.dropped.await_pubrel_timeout"] = c.recv_dropped_await_pubrel;
    o["send_oct"] = c.send_oct;
    o["send_cnt"] = c.send_cnt;
    o["send_pkt"] = c.send_pkt;
    o["send_msg"] = c.send_msg;
    o["send_msg.qos0"] = c.send_msg - c.send_qos1 - c.send_qos2;
    o["send_msg.qos1"] = c.send_qos1;
    o["send_msg.qos2"] = c.send_qos2;
    o["send_msg.dropped"] = std::uint64_t{c.send_dropped_expired} + c.send_dropped_queue_full +
                            c.send_dropped_too_large;
    o["send_msg.dropped.expired"] = c.send_dropped_expired;
    o["send_msg.dropped.queue_full"] = c.send_dropped_queue_full;
    o["send_msg.dropped.too_large"] = c.send_dropped_too_large;
    o["heap_size"] = ch->memory();
    if (auto l = ch->host().listener(); !l.empty()) o["listener"] = l;
  }
  return o;
}

// Only the fields asked for (EMQX's `fields`), when some are.
json::object select_fields(json::object o, const std::vector<std::string>& fields) {
  if (fields.empty()) return o;
  json::object out;
  for (const auto& k : fields) {
    if (auto* v = o.if_contains(k)) out[k] = *v;
  }
  return out;
}

json::object subscription_json(const std::string& client_id, const std::string& filter,
                               const mqtt::SubscribeOptions& o, bool durable,
                               const std::string& node) {
  return json::object{{"node", node},
                      {"clientid", client_id},
                      {"topic", filter},
                      {"qos", static_cast<int>(o.max_qos)},
                      {"nl", o.no_local ? 1 : 0},
                      {"rap", o.retain_as_published ? 1 : 0},
                      {"rh", static_cast<int>(o.retain_handling)},
                      {"durable", durable}};
}

std::string random_id() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) return "0";
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : b) {
    out += digits[c >> 4];
    out += digits[c & 0xF];
  }
  return out;
}

json::object message_json(const mqtt::Message& m, std::string_view msgid) {
  return json::object{{"msgid", msgid},
                      {"topic", m.topic},
                      {"qos", static_cast<int>(m.qos)},
                      {"publish_at", m.received_at_ms},
                      {"payload", auth::base64(m.payload)}};
}

// EMQX's retained message: the payload only when asked for one message.
json::object retained_json(const mqtt::Message& m, bool payload) {
  std::int64_t at = m.received_at_ms;
  if (at == 0) {  // unstamped ($SYS): its wall time from its age
    at = mqtt::wall_ms_now() - std::chrono::duration_cast<std::chrono::milliseconds>(
                                   mqtt::Message::Clock::now() - m.received_at)
                                   .count();
  }
  json::object o{{"msgid", std::to_string(at)},    {"topic", m.topic},
                 {"qos", static_cast<int>(m.qos)}, {"publish_at", time_text::rfc3339_ms(at)},
                 {"from_clientid", nullptr},       {"from_username", nullptr}};
  if (payload) o["payload"] = auth::base64(m.payload);
  return o;
}

// ------------------------------------------------------------------ delayed

// EMQX's delayed message (emqx_delayed:format_delayed); the payload only when asked for
// one message, in base64, or "PAYLOAD_TOO_LARGE" past 2048 bytes as EMQX answers.
json::object delayed_json(const session::DelayedMessage& d, const std::string& node, bool payload) {
  const auto& m = *d.msg;
  json::object o{{"msgid", d.id},
                 {"node", node},
                 {"publish_at", time_text::rfc3339_ms(m.received_at_ms)},
                 {"delayed_interval", d.interval},
                 {"delayed_remaining", (d.at_ms - mqtt::wall_ms_now()) / 1000},
                 {"expected_at", time_text::rfc3339_ms(d.at_ms)},
                 {"topic", m.topic},
                 {"qos", static_cast<int>(m.qos)},
                 {"from_clientid", d.from_clientid},
                 {"from_username", nullptr}};
  if (d.from_username) o["from_username"] = *d.from_username;
  if (payload) {
    o["payload"] =
        m.payload.size() > 2048 ? std::string("PAYLOAD_TOO_LARGE") : auth::base64(m.payload);
  }
  return o;
}

// The delayed_* operations (node_ops.hpp); nullopt for another name.
std::optional<NodeAnswer> delayed_op(session::NodeState& node, const std::string& name,
                                     const json::object& a) {
  auto& delayed = node.delayed;
  const std::string& self = node.config.node.name;
  auto not_found = [](const std::string& id) {
    return error_answer(404, "MESSAGE_ID_NOT_FOUND", "Message ID " + id + " not found");
  };
  if (name == "delayed_settings") {
    return json_answer(200, json::object{{"enable", delayed.enabled()},
                                         {"max_delayed_messages", delayed.max_messages()}});
  }
  if (name == "delayed_set") {
    const auto enable = bool_arg(a, "enable").value_or(delayed.enabled());
    const auto max = int_arg(a, "max_delayed_messages").value_or(delayed.max_messages());
    if (max < 0 || max > UINT32_MAX) {
      return error_answer(400, "BAD_REQUEST", "Max delayed must be equal or greater than 0");
    }
    session::WorkerCore::forget_delayed(node, delayed.set(enable, static_cast<std::uint32_t>(max)));
    return json_answer(200, json::object{{"enable", enable}, {"max_delayed_messages", max}});
  }
  if (name == "delayed_list") {
    std::size_t offset = 0, limit = 0, count = 0;
    window(a, offset, limit);
    json::array data;
    for (const auto& d : delayed.list(offset, limit, count))
      data.push_back(delayed_json(d, self, false));
    return json_answer(200, json::object{{"count", count}, {"data", std::move(data)}});
  }
  const auto id = string_arg(a, "msgid").value_or("");
  if (name == "delayed_get") {
    auto d = delayed.get(id);
    if (!d) return not_found(id);
    return json_answer(200, delayed_json(*d, self, true));
  }
  if (name == "delayed_delete") {
    auto d = delayed.erase(id);
    if (!d) return not_found(id);
    session::WorkerCore::forget_delayed(node, {*d});
    return json_answer(200, json::object{});
  }
  if (name == "delayed_delete_topic") {
    auto gone = delayed.erase_topic(string_arg(a, "topic").value_or(""));
    session::WorkerCore::forget_delayed(node, gone);
    return json_answer(200, json::object{{"deleted", gone.size()}});
  }
  return std::nullopt;
}

// ------------------------------------------------------------------ node

}  // namespace

NodeOps::NodeOps(session::NodeState& node, std::vector<net::Worker*> workers, std::string version,
                 net::StatPeaks* peaks)
    : node_(node), workers_(std::move(workers)), version_(std::move(version)), peaks_(peaks) {}

NodeAnswer NodeOps::answer(const std::string& name, const std::string& args) {
  try {
    if (auto op = extra_.find(name); op != extra_.end()) return op->second(args);
    boost::system::error_code ec;
    json::value parsed = json::parse(args.empty() ? std::string("{}") : args, ec);
    if (ec || !parsed.is_object())
      return error_answer(400, "BAD_REQUEST", "arguments: a JSON object");
    const json::object& a = parsed.as_object();
    const std::string& self = node_.config.node.name;

    if (name == "stats" || name == "metrics") {
      json::object o;
      for (const auto& c :
           name == "stats" ? net::node_stats(node_, peaks_) : net::node_metrics(node_))
        o[c.name] = c.value;
      return json_answer(200, o);
    }

    if (name == "node") {
      double load[3] = {0, 0, 0};
      if (getloadavg(load, 3) != 3) load[0] = load[1] = load[2] = 0;
      rlimit fds{};
      getrlimit(RLIMIT_NOFILE, &fds);
      const auto memory = proc::system_memory();
      std::uint64_t connections = 0;
      for (const auto& c : net::node_stats(node_)) {
        if (c.name == "connections.count") connections = c.value;
      }
      auto uptime = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - node_.started)
                        .count();
      return json_answer(200, json::object{{"node", self},
                                           {"node_status", "running"},
                                           {"version", version_},
                                           {"edition", "Opensource"},
                                           {"role", "core"},
                                           {"uptime", uptime},
                                           {"connections", connections},
                                           {"live_connections", connections},
                                           {"load1", load[0]},
                                           {"load5", load[1]},
                                           {"load15", load[2]},
                                           {"max_fds", fds.rlim_cur},
                                           {"memory_total", memory ? memory->total : 0},
                                           {"memory_used", memory ? memory->used() : 0},
                                           {"sys_path", node_.config.node.data_dir}});
    }

    if (name.starts_with("delayed_")) {
      if (auto answer = delayed_op(node_, name, a)) return std::move(*answer);
    }

    if (name == "trace_read") {
      const auto trace = string_arg(a, "name").value_or("");
      const auto position = int_arg(a, "position").value_or(0);
      const auto bytes = int_arg(a, "bytes").value_or(0);
      if (position < 0 || bytes < 0 || static_cast<std::uint64_t>(bytes) > kMaxTraceBytes) {
        return error_answer(400, "BAD_REQUEST", "position and bytes: 0 to the bound");
      }
      auto r = node_.traces.read_trace_log(trace, static_cast<std::uint64_t>(position),
                                           static_cast<std::uint64_t>(bytes));
      if (!r.found) return error_answer(404, "NOT_FOUND", trace + " NOT FOUND");
      return json_answer(
          200,
          json::object{{"size", r.size}, {"mtime", r.mtime}, {"bytes", auth::base64(r.bytes)}});
    }
    if (name == "trace_sizes") {
      json::object out;
      for (const auto& t : node_.traces.list())
        out[t.name] = node_.traces.read_trace_log(t.name, 0, 0).size;
      return json_answer(200, std::move(out));
    }
    if (name == "listeners" || name == "listener_action") {
      const auto* listeners = listeners_.load();
      json::array all;
      const auto id = string_arg(a, "id");
      for (const auto& cfg : node_.config.listeners) {
        const std::string lid = cfg.type + ":" + cfg.name;
        if (id && *id != lid) continue;
        net::Listener* l = nullptr;
        if (listeners != nullptr) {
          for (const auto& have : *listeners) {
            if (have->name() == lid) l = have.get();
          }
        }
        if (name == "listener_action") {
          if (l == nullptr)
            return error_answer(404, "BAD_LISTENER_ID", lid + " is not running here");
          if (node_.shutting_down) return error_answer(503, "SERVICE_UNAVAILABLE", "shutting down");
          const auto action = string_arg(a, "action").value_or("");
          if (action == "stop" || action == "restart") l->stop(/*wait=*/true);
          if (action == "start" || action == "restart") {
            if (auto why = l->resume(); !why.empty())
              return error_answer(500, "INTERNAL_ERROR", why);
          } else if (action != "stop") {
            return error_answer(400, "BAD_REQUEST", "action: stop, start or restart");
          }
          logger()->info("listener {} {} through the HTTP API", lid,
                         action == "stop"    ? "stopped"
                         : action == "start" ? "started"
                                             : "restarted");
          return json_answer(200, json::object{});
        }
        const bool running = l != nullptr && l->running();
        all.push_back(json::object{{"id", lid},
                                   {"type", cfg.type},
                                   {"name", cfg.name},
                                   {"enable", cfg.enable},
                                   {"bind", l != nullptr ? l->address() : cfg.bind},
                                   {"running", running},
                                   {"acceptors", workers_.size()},
                                   {"max_connections", cfg.max_connections},
                                   {"current_connections", l != nullptr ? l->connections() : 0}});
      }
      if (name == "listener_action") {
        return error_answer(404, "BAD_LISTENER_ID", "no listener " + id.value_or(""));
      }
      return json_answer(200, std::move(all));
    }
    if (name == "prom_sample" && monitor_.sample) {
      return json_answer(200, prom::to_json(monitor_.sample()));
    }
    if (name == "alarms" && monitor_.alarms != nullptr) {
      std::optional<bool> activated = bool_arg(a, "activated");
      json::array data;
      const auto now = Alarms::now_us();
      for (const auto& alarm : monitor_.alarms->list(activated))
        data.push_back(alarm_api_json(alarm, self, now));
      return json_answer(200, json::object{{"data", std::move(data)}});
    }
    if (name == "alarms_clear" && monitor_.alarms != nullptr) {
      monitor_.alarms->clear_deactivated();
      return json_answer(200, json::object{});
    }

    if (name == "clients") {
      ClientFilter filter(a);
      std::size_t offset = 0, limit = 0;
      window(a, offset, limit);
      const auto fields = strings_arg(a, "fields");
      // Phase one, on every worker: who matches (id, worker, session).
      struct Row {
        std::string id;
        std::uint32_t worker = 0;
        std::uint64_t sid = 0;
      };
      auto found = on_workers<std::vector<Row>>(workers_, [&filter](WorkerCore& core) {
        std::vector<Row> rows;
        core.sessions().for_each([&](Session& s) {
          if (filter.matches(s)) rows.push_back({s.client_id(), core.worker_id(), s.id()});
        });
        return rows;
      });
      std::vector<Row> rows;
      for (auto& v : found)
        std::move(v.begin(), v.end(), std::back_inserter(rows));
      std::sort(rows.begin(), rows.end(), [](const Row& x, const Row& y) { return x.id < y.id; });
      const std::size_t count = rows.size();
      json::array data;
      if (offset < count && limit > 0) {
        const std::size_t end = std::min(count, offset + limit);
        // Phase two, on the workers that hold them: the page's objects, in order.
        std::map<std::uint32_t, std::vector<std::pair<std::size_t, std::uint64_t>>> by_worker;
        for (std::size_t i = offset; i < end; ++i)
          by_worker[rows[i].worker].push_back({i - offset, rows[i].sid});
        std::vector<std::optional<json::object>> page(end - offset);
        for (const auto& entry : by_worker) {
          const std::uint32_t w = entry.first;
          const auto& want = entry.second;  // named: clang 14 captures no structured binding
          if (w >= workers_.size()) continue;
          auto objs = on_worker<std::vector<std::pair<std::size_t, json::object>>>(
              workers_[w], [want, this](WorkerCore& core) {
                std::vector<std::pair<std::size_t, json::object>> out;
                for (auto [slot, sid] : want) {
                  if (const Session* s = core.sessions().find(sid))
                    out.emplace_back(slot, client_json(*s, node_));
                }
                return out;
              });
          if (!objs) continue;
          for (auto& [slot, o] : *objs)
            page[slot] = select_fields(std::move(o), fields);
        }
        for (auto& o : page) {
          if (o) data.push_back(std::move(*o));  // gone since phase one: left out
        }
      }
      return json_answer(200, json::object{{"count", count}, {"data", std::move(data)}});
    }

    if (name == "subscriptions") {
      const auto client_id = string_arg(a, "clientid");
      const auto topic = string_arg(a, "topic");
      const auto match_topic = string_arg(a, "match_topic");
      const auto share_group = string_arg(a, "share_group");
      const auto qos = int_arg(a, "qos");
      std::size_t offset = 0, limit = 0;
      window(a, offset, limit);
      struct Sub {
        std::string client_id, filter;
        mqtt::SubscribeOptions opts;
        bool durable = false;
      };
      auto found = on_workers<std::vector<Sub>>(workers_, [&](WorkerCore& core) {
        std::vector<Sub> subs;
        core.sessions().for_each([&](Session& s) {
          if (client_id && s.client_id() != *client_id) return;
          for (const auto& [filter, st] : s.subscriptions) {
            if (topic && filter != *topic) continue;
            if (qos && static_cast<int>(st.opts.max_qos) != *qos) continue;
            auto shared = broker::parse_shared(filter);
            std::string_view plain = filter;
            std::string_view group;
            if (shared && *shared) {
              plain = (*shared)->filter;
              group = (*shared)->group;
            }
            if (share_group && group != *share_group) continue;
            if (match_topic && !broker::topic_matches(*match_topic, plain)) continue;
            subs.push_back({s.client_id(), filter, st.opts, s.store_uid != 0});
          }
        });
        return subs;
      });
      std::vector<Sub> all;
      for (auto& v : found)
        std::move(v.begin(), v.end(), std::back_inserter(all));
      std::sort(all.begin(), all.end(), [](const Sub& x, const Sub& y) {
        return std::tie(x.client_id, x.filter) < std::tie(y.client_id, y.filter);
      });
      json::array data;
      for (std::size_t i = offset; i < all.size() && i < offset + limit; ++i) {
        data.push_back(
            subscription_json(all[i].client_id, all[i].filter, all[i].opts, all[i].durable, self));
      }
      return json_answer(200, json::object{{"count", all.size()}, {"data", std::move(data)}});
    }

    if (name == "retained_list") {
      // Every node holds every retained message (broker/retainer.hpp): this node answers.
      const auto filter = string_arg(a, "topic");
      if (filter && !broker::validate_topic_filter(*filter, node_.config.mqtt.max_topic_levels)) {
        return error_answer(400, "BAD_TOPIC", "topic: a valid topic filter");
      }
      const auto now = mqtt::Message::Clock::now();
      std::vector<mqtt::MessagePtr> all;
      if (filter) {
        node_.retainer.match(*filter, now, all);
      } else {
        node_.retainer.for_each([&](const mqtt::MessagePtr& m) {
          if (!m->expired(now)) all.push_back(m);
        });
      }
      std::sort(all.begin(), all.end(), [](const mqtt::MessagePtr& x, const mqtt::MessagePtr& y) {
        return x->topic < y->topic;
      });
      std::size_t offset = 0, limit = 0;
      window(a, offset, limit);
      json::array data;
      for (std::size_t i = offset; i < all.size() && i < offset + limit; ++i)
        data.push_back(retained_json(*all[i], false));
      return json_answer(200, json::object{{"count", all.size()}, {"data", std::move(data)}});
    }

    if (name == "retained_get") {
      const auto topic = string_arg(a, "topic");
      auto m = topic ? node_.retainer.get(*topic) : std::nullopt;
      if (!m || (*m)->expired(mqtt::Message::Clock::now())) {
        return error_answer(404, "NOT_FOUND", "no retained message on this topic");
      }
      return json_answer(200, retained_json(**m, true));
    }

    if (name == "retained_clear") {
      // {"topic"}: that topic; {"filter"}: every topic it matches; {}: every topic.
      if (workers_.empty()) return error_answer(503, "SERVICE_UNAVAILABLE", "no workers");
      std::vector<std::string> topics;
      if (auto topic = string_arg(a, "topic")) {
        topics.push_back(*topic);
      } else {
        const auto filter = string_arg(a, "filter");
        if (filter && !broker::validate_topic_filter(*filter, node_.config.mqtt.max_topic_levels)) {
          return error_answer(400, "BAD_TOPIC", "filter: a valid topic filter");
        }
        node_.retainer.for_each([&](const mqtt::MessagePtr& m) {
          if (!filter || broker::topic_matches(*filter, m->topic)) topics.push_back(m->topic);
        });
      }
      // In tasks of at most 1,000 topics, so that a worker is never held long.
      std::size_t cleared = 0;
      for (std::size_t at = 0; at < topics.size(); at += 1000) {
        std::vector<std::string> chunk(
            topics.begin() + static_cast<std::ptrdiff_t>(at),
            topics.begin() + static_cast<std::ptrdiff_t>(std::min(at + 1000, topics.size())));
        auto n = on_worker<std::size_t>(workers_[0], [chunk = std::move(chunk)](WorkerCore& core) {
          std::size_t done = 0;
          for (const auto& t : chunk)
            done += core.clear_retained(t) ? 1 : 0;
          return done;
        });
        if (!n) return error_answer(503, "SERVICE_UNAVAILABLE", "the node is shutting down");
        cleared += *n;
      }
      return json_answer(200, json::object{{"cleared", cleared}});
    }

    if (name == "publish") {
      if (workers_.empty()) return error_answer(503, "SERVICE_UNAVAILABLE", "no workers");
      const auto topic = string_arg(a, "topic");
      if (!topic || !broker::validate_topic_name(*topic, node_.config.mqtt.max_topic_levels)) {
        return error_answer(400, "BAD_TOPIC", "topic: a valid topic name, without wildcards");
      }
      auto m = std::make_shared<mqtt::Message>();
      m->topic = *topic;
      auto payload = auth::unbase64(string_arg(a, "payload").value_or(""));  // ops_api.cpp
      if (!payload) return error_answer(400, "BAD_REQUEST", "payload: base64 between nodes");
      m->payload = std::move(*payload);
      m->qos = static_cast<mqtt::QoS>(int_arg(a, "qos").value_or(0));
      m->retain = bool_arg(a, "retain").value_or(false);
      if (auto e = int_arg(a, "message_expiry_interval"); e && *e > 0 && *e <= UINT32_MAX) {
        m->message_expiry_interval = static_cast<std::uint32_t>(*e);
      }
      auto extra = std::make_shared<mqtt::MessageExtra>();
      bool has_extra = false;
      if (auto v = int_arg(a, "payload_format_indicator")) {
        extra->payload_format_indicator = static_cast<std::uint8_t>(*v != 0);
        has_extra = true;
      }
      for (const char* key : {"content_type", "response_topic", "correlation_data"}) {
        if (auto v = string_arg(a, key)) {
          has_extra = true;
          if (std::string_view(key) == "content_type") extra->content_type = *v;
          if (std::string_view(key) == "response_topic") extra->response_topic = *v;
          if (std::string_view(key) == "correlation_data") extra->correlation_data = *v;
        }
      }
      if (const auto* up = arg(a, "user_properties"); up != nullptr && up->is_object()) {
        for (const auto& kv : up->as_object()) {
          if (!kv.value().is_string()) continue;
          extra->user_properties.push_back(
              {std::string(kv.key()), std::string(kv.value().as_string())});
          has_extra = true;
        }
      }
      if (has_extra) m->extra = std::move(extra);
      m->received_at = mqtt::Message::Clock::now();
      m->received_at_ms = mqtt::wall_ms_now();
      const std::string id = random_id();
      const std::size_t w = static_cast<std::size_t>(m->received_at_ms) % workers_.size();
      mqtt::MessagePtr msg = std::move(m);
      auto matched = on_worker<std::size_t>(
          workers_[w], [msg](WorkerCore& core) { return core.publish(msg, {}).matched; });
      if (!matched) return error_answer(503, "SERVICE_UNAVAILABLE", "the node is shutting down");
      return json_answer(200, json::object{{"id", id}, {"matched", *matched}});
    }

    // The per-client operations: the session is found, then asked on its worker.
    const auto client_id = string_arg(a, "clientid");
    if (!client_id) return error_answer(404, "NOT_FOUND", "no such operation: " + name);
    const auto where = locate(node_, *client_id);
    if (!where || where->worker >= workers_.size()) return client_not_found();
    net::Worker* w = workers_[where->worker];
    const std::uint64_t sid = where->session;

    if (name == "client") {
      auto o = on_worker<std::optional<json::object>>(
          w, [this, sid](WorkerCore& core) -> std::optional<json::object> {
            const Session* s = core.sessions().find(sid);
            if (s == nullptr) return std::nullopt;
            return client_json(*s, node_);
          });
      if (!o || !*o) return client_not_found();
      return json_answer(200, select_fields(std::move(**o), strings_arg(a, "fields")));
    }
    if (name == "kick") {
      auto done = on_worker<bool>(w, [sid](WorkerCore& core) { return core.sessions().kick(sid); });
      if (!done || !*done) return client_not_found();
      logger()->info("client_id={} kicked through the HTTP API", *client_id);
      return json_answer(200, json::object{});
    }
    if (name == "client_subscriptions") {
      auto subs = on_worker<std::optional<json::array>>(
          w, [sid, &self](WorkerCore& core) -> std::optional<json::array> {
            const Session* s = core.sessions().find(sid);
            if (s == nullptr) return std::nullopt;
            json::array out;
            for (const auto& [filter, st] : s->subscriptions)
              out.push_back(
                  subscription_json(s->client_id(), filter, st.opts, s->store_uid != 0, self));
            return out;
          });
      if (!subs || !*subs) return client_not_found();
      return json_answer(200, std::move(**subs));
    }
    if (name == "subscribe") {
      mqtt::Subscription sub;
      sub.topic_filter = string_arg(a, "topic").value_or("");
      const auto q = int_arg(a, "qos").value_or(0);
      const auto rh = int_arg(a, "rh").value_or(0);
      if (q < 0 || q > 2 || rh < 0 || rh > 2) {
        return error_answer(400, "BAD_REQUEST", "qos and rh: 0, 1 or 2");
      }
      sub.options.max_qos = static_cast<mqtt::QoS>(q);
      sub.options.no_local = int_arg(a, "nl").value_or(0) != 0;
      sub.options.retain_as_published = int_arg(a, "rap").value_or(0) != 0;
      sub.options.retain_handling = static_cast<std::uint8_t>(rh);
      struct Outcome {
        bool connected = false;
        mqtt::ReasonCode rc = mqtt::ReasonCode::Success;
        mqtt::SubscribeOptions opts;
        bool durable = false;
      };
      auto out = on_worker<Outcome>(w, [sid, sub](WorkerCore& core) {
        Outcome o;
        Session* s = core.sessions().find(sid);
        if (s == nullptr || s->channel == nullptr) return o;
        o.connected = true;
        o.rc = s->channel->admin_subscribe(sub);
        if (auto it = s->subscriptions.find(sub.topic_filter); it != s->subscriptions.end()) {
          o.opts = it->second.opts;
        }
        o.durable = s->store_uid != 0;
        return o;
      });
      if (!out || !out->connected) return client_not_found();
      if (mqtt::is_error(out->rc)) {
        return error_answer(400, "BAD_REQUEST",
                            fmt::format("subscription refused (reason code 0x{:02x})",
                                        static_cast<unsigned>(out->rc)));
      }
      return json_answer(
          200, subscription_json(*client_id, sub.topic_filter, out->opts, out->durable, self));
    }
    if (name == "unsubscribe") {
      const auto topic = string_arg(a, "topic").value_or("");
      auto out = on_worker<int>(w, [sid, topic](WorkerCore& core) {
        Session* s = core.sessions().find(sid);
        if (s == nullptr || s->channel == nullptr) return 404;
        s->channel->admin_unsubscribe(topic);  // none to remove: done all the same, as EMQX
        return 200;
      });
      if (!out || *out != 200) return client_not_found();
      return json_answer(200, json::object{});
    }
    if (name == "mqueue" || name == "inflight") {
      std::size_t offset = 0, limit = 0;
      window(a, offset, limit);
      const bool queue = name == "mqueue";
      auto out = on_worker<std::optional<json::object>>(
          w, [sid, queue, offset, limit](WorkerCore& core) -> std::optional<json::object> {
            Session* s = core.sessions().find(sid);
            if (s == nullptr) return std::nullopt;
            json::array data;
            std::size_t i = 0;
            auto add = [&](const session::Delivery& d, std::uint16_t packet_id) {
              if (i++ < offset || data.size() >= limit || !d.msg) return;
              auto o = message_json(*d.msg, std::to_string(packet_id));
              o["qos"] = static_cast<int>(d.qos);
              data.push_back(std::move(o));
            };
            if (queue) {
              s->queue.for_each([&](const session::Delivery& d) { add(d, 0); });
            } else {
              s->inflight.for_each([&](const session::Inflight& f) { add(f.d, f.packet_id); });
            }
            return json::object{{"count", i}, {"data", std::move(data)}};
          });
      if (!out || !*out) return client_not_found();
      return json_answer(200, std::move(**out));
    }
    return error_answer(404, "NOT_FOUND", "no such operation: " + name);
  } catch (const std::exception& e) {
    logger()->warn("API operation {} failed: {}", name, e.what());
    return error_answer(500, "INTERNAL_ERROR", "the operation failed on this node");
  }
}

}  // namespace emqxd::api
