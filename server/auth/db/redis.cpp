// Redis over hiredis's blocking API, with its connect and command timeouts set to what is
// left of the caller's deadline. Each word of the command template is one argv element
// (db_client.hpp), so a value never splits into more arguments or commands.
//
// Three deployments (db_client.hpp: RedisMode):
// - single: one server.
// - sentinel: each sentinel in `servers` is asked in turn for the master of `sentinel`
//   (SENTINEL get-master-addr-by-name), and the connection goes to that master once it
//   says it is one (ROLE). A connection that hears READONLY or MASTERDOWN (the master was
//   demoted in a failover) is broken, so the pool asks the sentinels again.
// - cluster: a connection is a set of node connections and the slot map (CLUSTER SLOTS).
//   A command goes to the node of its key's slot (the key is the command's second word:
//   SET, HSET, RPUSH, LPUSH, XADD, PUBLISH ... all have it there), follows MOVED (and
//   reloads the map) and ASK (with ASKING), at most kMaxRedirects times.
#include <hiredis/hiredis.h>

#include <array>
#include <charconv>

#include "auth/db/db_client.hpp"

namespace emqxd::auth::db {
namespace {

constexpr int kMaxRedirects = 5;

timeval left_of(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::microseconds>(deadline - Clock::now());
  if (left.count() < 1000) left = std::chrono::microseconds(1000);
  return timeval{static_cast<time_t>(left.count() / 1'000'000),
                 static_cast<suseconds_t>(left.count() % 1'000'000)};
}

std::optional<std::string> text_of(const redisReply* r) {
  switch (r->type) {
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      return std::string(r->str, r->len);
    case REDIS_REPLY_INTEGER:
      return std::to_string(r->integer);
    default:
      return std::nullopt;
  }
}

std::string where(const std::string& host, std::uint16_t port) {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

class RedisConnection final : public Connection {
 public:
  explicit RedisConnection(redisContext* c) : c_(c) {}
  ~RedisConnection() override { redisFree(c_); }

  bool broken() const override { return c_->err != 0 || demoted_; }
  // The server closed the connection (EOF, a reset, a broken pipe), as opposed to a
  // timeout: what was sent did not run.
  bool closed_by_peer() const {
    if (c_->err == REDIS_ERR_EOF) return true;
    const std::string_view e = c_->errstr;
    return c_->err == REDIS_ERR_IO && (e.find("reset") != std::string_view::npos ||
                                       e.find("Broken pipe") != std::string_view::npos);
  }

  // The raw reply, or null with `error` set (the connection is then broken: c_->err).
  ReplyPtr raw(const Args& args, Clock::time_point deadline, std::string& error) {
    redisSetTimeout(c_, left_of(deadline));
    std::vector<const char*> argv;
    std::vector<std::size_t> lens;
    for (const auto& a : args) {
      argv.push_back(a ? a->data() : "");
      lens.push_back(a ? a->size() : 0);
    }
    ReplyPtr r(static_cast<redisReply*>(
        redisCommandArgv(c_, static_cast<int>(argv.size()), argv.data(), lens.data())));
    if (!r) error = c_->errstr[0] != '\0' ? std::string(c_->errstr) : "no reply";
    return r;
  }

  // The reply, or an error; the connection is broken when hiredis says so (c_->err).
  Reply command(const Args& args, Clock::time_point deadline) {
    if (args.empty()) return Reply::refused("empty command");
    std::string error;
    auto r = raw(args, deadline, error);
    if (!r) return {false, error, {}};
    Reply out;
    out.rows.columns = {"value"};
    if (r->type == REDIS_REPLY_ERROR) {
      out.error = std::string(r->str, r->len);
      out.server_error = true;
      // A master demoted by a failover: this connection is done, and another try (through
      // the sentinels) may well succeed.
      if (out.error.starts_with("READONLY") || out.error.starts_with("MASTERDOWN")) {
        demoted_ = true;
        out.server_error = false;
      }
    } else {
      out.ok = true;
      if (r->type == REDIS_REPLY_ARRAY) {
        for (std::size_t i = 0; i < r->elements; ++i)
          out.rows.rows.push_back({text_of(r->element[i])});
      } else if (r->type != REDIS_REPLY_NIL) {
        out.rows.rows.push_back({text_of(r.get())});
      }
    }
    return out;
  }

  Reply run(const Statement& /*s*/, const Args& args, Clock::time_point deadline) override {
    return command(args, deadline);
  }

 private:
  redisContext* c_;
  bool demoted_ = false;
};

// A connection to one server, authenticated and (`database`, when not empty or "0")
// on that database.
std::unique_ptr<RedisConnection> connect_one(const std::string& host, std::uint16_t port,
                                             const Endpoint& e, const std::string& database,
                                             Clock::time_point deadline, std::string& error) {
  redisContext* c = redisConnectWithTimeout(host.c_str(), port, left_of(deadline));
  if (c == nullptr) {
    error = "out of memory";
    return nullptr;
  }
  if (c->err != 0) {
    error = c->errstr;
    redisFree(c);
    return nullptr;
  }
  auto conn = std::make_unique<RedisConnection>(c);
  if (!e.password.empty()) {
    Args auth = {"AUTH"};
    if (!e.username.empty()) auth.push_back(e.username);
    auth.push_back(e.password);
    Reply r = conn->command(auth, deadline);
    if (!r.ok) {
      error = "AUTH: " + r.error;
      return nullptr;
    }
  }
  if (!database.empty() && database != "0") {
    Reply r = conn->command({"SELECT", database}, deadline);
    if (!r.ok) {
      error = "SELECT " + database + ": " + r.error;
      return nullptr;
    }
  }
  return conn;
}

// Sentinel: the first sentinel that names a master that says it is one.
std::unique_ptr<Connection> connect_sentinel(const Endpoint& e, Clock::time_point deadline,
                                             std::string& error) {
  std::string errors;
  auto note = [&](const std::string& at, const std::string& what) {
    errors += (errors.empty() ? "" : "; ") + at + ": " + what;
  };
  for (const auto& [host, port] : e.servers) {
    const std::string at = "sentinel " + where(host, port);
    redisContext* raw = redisConnectWithTimeout(host.c_str(), port, left_of(deadline));
    if (raw == nullptr) {
      note(at, "out of memory");
      continue;
    }
    RedisConnection s(raw);
    if (raw->err != 0) {
      note(at, raw->errstr);
      continue;
    }
    std::string err;
    auto r = s.raw({"SENTINEL", "get-master-addr-by-name", e.sentinel}, deadline, err);
    if (!r) {
      note(at, err);
      continue;
    }
    if (r->type == REDIS_REPLY_ERROR) {
      note(at, std::string(r->str, r->len));
      continue;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
      note(at, "knows no master named " + e.sentinel);
      continue;
    }
    const std::string mhost(r->element[0]->str, r->element[0]->len);
    std::uint16_t mport = 0;
    const std::string_view ps(r->element[1]->str, r->element[1]->len);
    if (std::from_chars(ps.data(), ps.data() + ps.size(), mport).ptr != ps.data() + ps.size()) {
      note(at, "named a master at a bad port: " + std::string(ps));
      continue;
    }
    const std::string mat = "master " + e.sentinel + " at " + where(mhost, mport);
    auto conn = connect_one(mhost, mport, e, e.database, deadline, err);
    if (!conn) {
      note(mat, err);
      continue;
    }
    // During a failover a sentinel may still name the old master, now a replica.
    auto role = conn->raw({"ROLE"}, deadline, err);
    if (!role) {
      note(mat, err);
      continue;
    }
    if (role->type != REDIS_REPLY_ARRAY || role->elements == 0 ||
        role->element[0]->type != REDIS_REPLY_STRING ||
        std::string_view(role->element[0]->str, role->element[0]->len) != "master") {
      note(mat, "is not a master (yet)");
      continue;
    }
    return conn;
  }
  error = errors.empty() ? "no sentinel" : errors;
  return nullptr;
}

// Cluster: node connections made as needed, one slot map.
class ClusterConnection final : public Connection {
 public:
  explicit ClusterConnection(Endpoint e) : e_(std::move(e)) {}

  bool broken() const override { return nodes_.empty(); }

  // Reads the slot map from the first node (known, then seed) that answers CLUSTER SLOTS.
  bool load_slots(Clock::time_point deadline, std::string& error) {
    std::vector<std::pair<std::string, std::uint16_t>> tries;
    for (const auto& [name, c] : nodes_)
      tries.push_back(c.at);
    tries.insert(tries.end(), e_.servers.begin(), e_.servers.end());
    std::string errors;
    for (const auto& [host, port] : tries) {
      RedisConnection* c = node(host, port, deadline, error);
      if (c == nullptr) {
        errors += (errors.empty() ? "" : "; ") + where(host, port) + ": " + error;
        continue;
      }
      std::string err;
      auto r = c->raw({"CLUSTER", "SLOTS"}, deadline, err);
      if (!r || r->type != REDIS_REPLY_ARRAY) {
        errors += (errors.empty() ? "" : "; ") + where(host, port) + ": " +
                  (!r                             ? err
                   : r->type == REDIS_REPLY_ERROR ? std::string(r->str, r->len)
                                                  : "a bad CLUSTER SLOTS reply");
        if (c->broken()) nodes_.erase(where(host, port));
        continue;
      }
      std::vector<Range> slots;  // swapped in only when usable
      for (std::size_t i = 0; i < r->elements; ++i) {
        const redisReply* range = r->element[i];
        if (range->type != REDIS_REPLY_ARRAY || range->elements < 3) continue;
        const redisReply* master = range->element[2];
        if (range->element[0]->type != REDIS_REPLY_INTEGER ||
            range->element[1]->type != REDIS_REPLY_INTEGER || master->type != REDIS_REPLY_ARRAY ||
            master->elements < 2 || master->element[0]->type != REDIS_REPLY_STRING ||
            master->element[1]->type != REDIS_REPLY_INTEGER)
          continue;
        std::string mhost(master->element[0]->str, master->element[0]->len);
        if (mhost.empty()) mhost = host;  // "" means the node that answered
        slots.push_back({static_cast<std::uint16_t>(range->element[0]->integer),
                         static_cast<std::uint16_t>(range->element[1]->integer), std::move(mhost),
                         static_cast<std::uint16_t>(master->element[1]->integer)});
      }
      if (slots.empty()) {
        errors += (errors.empty() ? "" : "; ") + where(host, port) + ": no slots are served";
        continue;
      }
      slots_ = std::move(slots);
      return true;
    }
    error = errors.empty() ? "no cluster node" : errors;
    return false;
  }

  Reply run(const Statement& /*s*/, const Args& args, Clock::time_point deadline) override {
    if (args.empty()) return Reply::refused("empty command");
    std::optional<std::pair<std::string, std::uint16_t>> to;
    if (args.size() >= 2) {
      const std::uint16_t slot = redis_slot(args[1] ? *args[1] : std::string_view());
      for (const auto& r : slots_) {
        if (slot >= r.first && slot <= r.last) to = std::make_pair(r.host, r.port);
      }
    }
    if (!to && !slots_.empty()) to = std::make_pair(slots_.front().host, slots_.front().port);
    std::string error;
    if (!to) {
      if (!load_slots(deadline, error)) return {false, error, {}};
      return run({}, args, deadline);  // the map is usable now
    }
    bool asking = false, retried = false;
    for (int hop = 0; hop <= kMaxRedirects; ++hop) {
      const bool reused = nodes_.contains(where(to->first, to->second));
      RedisConnection* c = node(to->first, to->second, deadline, error);
      if (c == nullptr) {
        (void)load_slots(deadline, error);  // the next command finds the new owner
        return {false, where(to->first, to->second) + ": " + error, {}};
      }
      if (asking) {
        Reply a = c->command({"ASKING"}, deadline);
        if (!a.ok) return a;
      }
      Reply r = c->command(args, deadline);
      if (c->broken()) {
        const bool closed = c->closed_by_peer();
        nodes_.erase(where(to->first, to->second));
        // A kept connection the node closed while it sat idle (its timeout, a restart):
        // the command never ran; once more on a new one.
        if (closed && reused && !retried && Clock::now() < deadline) {
          retried = true;
          --hop;
          continue;
        }
      }
      if (r.ok || !r.server_error) return r;
      // "MOVED 3999 127.0.0.1:6381" (the slot lives there now) or "ASK 3999 ..." (this
      // once, during a resharding). The address may be an IPv6 one without brackets, or
      // ":6380" (an unknown endpoint: the node that answered).
      const bool moved = r.error.starts_with("MOVED ");
      asking = r.error.starts_with("ASK ");
      if (!moved && !asking) return r;
      const std::string_view addr = std::string_view(r.error).substr(r.error.rfind(' ') + 1);
      const auto colon = addr.rfind(':');
      std::uint16_t port = 0;
      if (colon == std::string_view::npos ||
          std::from_chars(addr.data() + colon + 1, addr.data() + addr.size(), port).ptr !=
              addr.data() + addr.size() ||
          port == 0)
        return r;
      std::string host(addr.substr(0, colon));
      if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
      if (host.empty()) host = to->first;
      to = std::make_pair(std::move(host), port);
      if (moved) (void)load_slots(deadline, error);
    }
    return {false, "too many cluster redirects", {}};
  }

 private:
  struct Range {
    std::uint16_t first, last;
    std::string host;
    std::uint16_t port;
  };
  struct Node {
    std::pair<std::string, std::uint16_t> at;
    std::unique_ptr<RedisConnection> c;
  };

  RedisConnection* node(const std::string& host, std::uint16_t port, Clock::time_point deadline,
                        std::string& error) {
    const std::string name = where(host, port);
    if (auto it = nodes_.find(name); it != nodes_.end()) {
      if (!it->second.c->broken()) return it->second.c.get();
      nodes_.erase(it);
    }
    auto c = connect_one(host, port, e_, "", deadline, error);  // a cluster has database 0
    if (!c) return nullptr;
    return (nodes_[name] = Node{{host, port}, std::move(c)}).c.get();
  }

  Endpoint e_;
  std::map<std::string, Node> nodes_;
  std::vector<Range> slots_;
};

}  // namespace

std::unique_ptr<Connection> connect_redis(const Endpoint& e, Clock::time_point deadline,
                                          std::string& error) {
  switch (e.redis_mode) {
    case RedisMode::Single:
      return connect_one(e.host, e.port, e, e.database, deadline, error);
    case RedisMode::Sentinel:
      return connect_sentinel(e, deadline, error);
    case RedisMode::Cluster: {
      auto c = std::make_unique<ClusterConnection>(e);
      if (!c->load_slots(deadline, error)) return nullptr;
      return c;
    }
  }
  error = "unknown redis_type";
  return nullptr;
}

}  // namespace emqxd::auth::db
