#pragma once
// Small synchronous clients for the databases that authentication and authorization read
// (EMQX's `backend = postgresql | mysql | redis` and `type = postgresql | mysql | redis`),
// each over the database's own C library: libpq, MariaDB Connector/C, hiredis.
//
// What they do, and only that: connect (with a deadline), run one templated query, give
// the rows back as strings. A query template's placeholders (${username}, ${clientid},
// ...) are never pasted into the query text: PostgreSQL gets $1, $2 ... and the values as
// parameters, MySQL a prepared statement with `?` and bound values, Redis one argv element
// per word of the command (a word may hold placeholders around fixed text, e.g.
// "mqtt_user:${username}", and stays one element whatever the value holds). So a username
// like `x' OR '1'='1` is a value compared with a column, never SQL.
//
// A Pool holds at most `size` connections, made when first needed and made again after
// one fails. Every query has a deadline (the `query_timeout`): waiting for a free
// connection, connecting and the query itself all count against it, and a query that
// does not finish in time closes its connection (the answer may still come; nobody reads
// it). So a server that is down or slow costs a caller at most the timeout.
//
// Threads: a Pool may be used by any number of threads at once (it blocks them); a
// Connection belongs to the thread that took it from the pool.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace emqxd::auth::db {

enum class Kind { Postgres, Mysql, Redis };
const char* kind_name(Kind k);

using Clock = std::chrono::steady_clock;

// Redis deployments (EMQX's redis_type): one server; a master found through Sentinel
// (`servers` are the sentinels, `sentinel` the master's name); or a Redis Cluster
// (`servers` are seed nodes; each command goes to the node of its key's slot).
enum class RedisMode { Single, Sentinel, Cluster };

struct Endpoint {
  Kind kind = Kind::Postgres;
  std::string host;
  std::uint16_t port = 0;
  RedisMode redis_mode = RedisMode::Single;
  std::vector<std::pair<std::string, std::uint16_t>> servers;  // sentinel and cluster
  std::string sentinel;                                        // the master's name
  // TLS to the server (EMQX's ssl block, PostgreSQL and MySQL): with `verify`, the
  // server's chain is checked against `cacertfile` (empty: the system's CAs) and, with
  // `check_name`, its name against `host`; a client certificate when certfile is set.
  struct Tls {
    bool verify = false;
    bool check_name = true;
    std::string cacertfile, certfile, keyfile;
    std::vector<std::string> versions;  // "tlsv1.2", "tlsv1.3"
    std::vector<std::string> ciphers;
  };
  std::optional<Tls> tls;
  std::string database;  // SQL: the database name; Redis: the index ("0")
  std::string username;  // may be empty (Redis: no ACL user)
  std::string password;  // never logged
};

// "host", "host:port", "[v6]:port" -> host and port (`default_port` when none); nullopt
// when malformed.
std::optional<std::pair<std::string, std::uint16_t>> split_server(std::string_view server,
                                                                  std::uint16_t default_port);
// "h1:p1,h2:p2" (EMQX's `servers`; spaces around commas allowed); nullopt when one is
// malformed or there are none.
std::optional<std::vector<std::pair<std::string, std::uint16_t>>> split_servers(
    std::string_view list, std::uint16_t default_port);

// The Redis Cluster hash slot of `key` (CRC16/XMODEM mod 16384 of the key, or of its
// first non-empty {hash tag}).
std::uint16_t redis_slot(std::string_view key);

// A compiled query template. SQL: `text` has $1.. (PostgreSQL) or ? (MySQL) where the
// placeholders were, and `params` names them in order ("username", "clientid" ...; one
// entry per occurrence). Redis: `words` are the command's words, each rendered on its own
// into one argv element.
struct Statement {
  std::string text;
  std::vector<std::string> params;
  std::vector<std::string> words;
  // Splits `tmpl` for `kind`. Placeholders are ${name}; the caller checked the names.
  static Statement compile(Kind kind, std::string_view tmpl);
};

// The values of the placeholders for one client: name (without ${}) -> value.
using Vars = std::map<std::string, std::string, std::less<>>;

// The values to send with a Statement: SQL parameters (nullopt: NULL), or Redis's argv
// (nullopt: an empty string).
using Args = std::vector<std::optional<std::string>>;
Args bind_args(const Statement& s, const Vars& vars);

// Rows of text. A SQL NULL is nullopt. Redis: one column, one row per element of the
// reply (an array reply), or one row holding the reply (a string or integer).
struct Rows {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;
  // The index of `name` in columns (case-insensitive), or -1.
  int column(std::string_view name) const;
};

struct Reply {
  bool ok = false;
  std::string error;  // when !ok: why (unreachable, timeout, the server's error)
  Rows rows;
  // When !ok: the server answered with an error (a bad query, a violated constraint, a
  // wrong type): the same query would fail again. Otherwise it was not reached or did
  // not answer in time, and a retry may do.
  bool server_error = false;
  static Reply refused(std::string why) {
    Reply r;
    r.error = std::move(why);
    r.server_error = true;
    return r;
  }
};

class Connection {
 public:
  virtual ~Connection() = default;
  virtual Reply run(const Statement& s, const Args& args, Clock::time_point deadline) = 0;
  // The connection cannot be used again (lost, timed out): the pool drops it.
  virtual bool broken() const = 0;
};

// Opens a connection, or null with `error` set.
std::unique_ptr<Connection> connect(const Endpoint& e, Clock::time_point deadline,
                                    std::string& error);

class Pool {
 public:
  Pool(Endpoint e, std::size_t size, std::chrono::milliseconds timeout);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs `s` with `args` within the timeout. Any thread.
  Reply query(const Statement& s, const Args& args);
  const Endpoint& endpoint() const { return endpoint_; }
  std::chrono::milliseconds timeout() const { return timeout_; }

 private:
  Endpoint endpoint_;
  std::chrono::milliseconds timeout_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> idle_;  // guarded by mutex_
  std::size_t out_ = 0;                            // taken, guarded by mutex_
  std::size_t size_;
};

}  // namespace emqxd::auth::db
