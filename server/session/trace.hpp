#pragma once
// Log traces (EMQX's "Log Trace", /api/v5/trace): packet-level detail of what one client,
// one topic filter or one address does, written to a file of its own per trace and node.
//
// Definitions live in the replicated table "trace" (tables/replicated_tables.hpp): a trace
// created on any node runs on every node, each writing its own file under
// <node.data_dir>/trace/. TraceManager follows the table and the clock (start_at, end_at)
// and publishes the set of running traces to the Tracer, which the channels ask.
//
// Cost on the packet path (docs/architecture.md, "Traces on the packet path"): a channel
// asks `Tracer::active()`, one relaxed atomic load, before anything else; with no trace
// running that is all. With traces running, a channel compares the set's generation with
// the one it matched last (client id and address are matched once per set, not per
// packet), then tests its bitmask of matching traces and, for a PUBLISH, SUBSCRIBE or
// UNSUBSCRIBE, the topic traces' filters. Only a packet that matches is formatted and
// written (one write(2) per line, under the trace's mutex, on the worker).
//
// Bounded: at most kMaxTraces definitions (EMQX's 30); each file at most
// trace.max_file_size bytes (then it stops growing and says so in a last line); a
// payload shows at most payload_limit bytes; a trace ends at end_at.
//
// Threads: Tracer is read by every worker; TraceManager by the API's handler threads,
// the table's writers (listener) and its own timer thread; one mutex each.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "config/config.hpp"
#include "mqtt/packets.hpp"

namespace emqxd::tables {
class ReplicatedTables;
struct Entry;
}  // namespace emqxd::tables

namespace emqxd::session {

enum class TraceType : std::uint8_t { ClientId, Topic, IpAddress };

// One trace as stored in the table and shown by the API.
struct TraceSpec {
  std::string name;
  TraceType type = TraceType::ClientId;
  std::string filter;         // the client id, topic filter or address
  bool enable = true;         // false once stopped
  std::int64_t start_at = 0;  // Unix seconds
  std::int64_t end_at = 0;
  std::string payload_encode = "text";  // text | hex | hidden
  std::uint32_t payload_limit = 1024;   // bytes of a payload shown; 0: all
  std::string formatter = "text";       // text | json
};

std::string_view trace_type_name(TraceType t);
// "running", "waiting" or "stopped" at `now_s`.
std::string_view trace_status(const TraceSpec& s, std::int64_t now_s);

// A running trace on this node: its file, written by any worker.
class TraceFile {
 public:
  TraceFile(TraceSpec spec, std::string path, std::uint64_t max_bytes);
  ~TraceFile();
  TraceFile(const TraceFile&) = delete;
  TraceFile& operator=(const TraceFile&) = delete;

  const TraceSpec& spec() const { return spec_; }
  const std::string& path() const { return path_; }
  // Appends one line (with its newline); false once the file is full or unwritable.
  bool write(std::string_view line);
  bool ok() const { return fd_ >= 0; }

 private:
  const TraceSpec spec_;
  const std::string path_;
  const std::uint64_t max_bytes_;
  std::mutex mutex_;
  int fd_ = -1;             // guarded by mutex_
  std::uint64_t size_ = 0;  // guarded by mutex_
  bool full_ = false;       // guarded by mutex_
};

// The running traces, immutable once published.
struct TraceSet {
  std::vector<std::shared_ptr<TraceFile>> by_client;  // clientid and ip_address traces
  std::vector<std::shared_ptr<TraceFile>> by_topic;
};

// Who a traced event is about.
struct TraceWho {
  std::string_view client_id;
  std::string_view peer;  // "ip:port"
};

class Tracer {
 public:
  // Whether any trace runs on this node: one relaxed load, the whole cost of tracing on
  // the packet path while none does.
  bool active() const { return active_.load(std::memory_order_relaxed); }
  std::uint32_t generation() const { return generation_.load(std::memory_order_acquire); }
  std::shared_ptr<const TraceSet> current() const;
  void publish(std::shared_ptr<const TraceSet> set);

  // What a channel keeps between packets: the set it matched and which of its by_client
  // traces are its own (bit i: by_client[i]).
  struct Cursor {
    std::uint32_t generation = 0;
    std::shared_ptr<const TraceSet> set;
    std::uint64_t mine = 0;
    bool wants = false;  // mine != 0, or topic traces run: packets must be looked at
  };
  // Brings `c` up to date for a client (client id, address without port).
  void refresh(Cursor& c, std::string_view client_id, std::string_view host) const;

  // A packet to or from the client (`in`: received). Topic traces see PUBLISH, SUBSCRIBE
  // and UNSUBSCRIBE on matching topics.
  static void packet(const Cursor& c, const TraceWho& who, bool in, const mqtt::Packet& p,
                     mqtt::ProtocolVersion v);
  // A PUBLISH sent to the client (channel write_publish).
  static void publish_out(const Cursor& c, const TraceWho& who, std::string_view topic,
                          std::string_view payload, int qos, bool retain, bool dup,
                          std::uint16_t packet_id);
  // An event of the client's traces only: authentication and authorization outcomes, the
  // end of the connection. `fields`: "key=value, ..." (text) as a JSON object's members.
  static void event(const Cursor& c, const TraceWho& who, std::string_view msg,
                    const std::vector<std::pair<std::string_view, std::string>>& fields);

 private:
  std::atomic<bool> active_{false};
  std::atomic<std::uint32_t> generation_{1};
  mutable std::mutex mutex_;
  std::shared_ptr<const TraceSet> set_;  // guarded by mutex_
};

// The definitions, their files and the API's operations on them.
class TraceManager {
 public:
  static constexpr std::string_view kTable = "trace";
  static constexpr std::size_t kMaxTraces = 30;              // EMQX's ?MAX_SIZE
  static constexpr std::int64_t kDefaultDuration = 10 * 60;  // end_at default: start + 10 min

  explicit TraceManager(const config::Config& cfg);
  ~TraceManager();

  Tracer& tracer() { return tracer_; }
  const std::string& dir() const { return dir_; }
  const std::string& node_name() const { return node_; }

  // Declares the table and follows it; before t.load().
  void attach(tables::ReplicatedTables& t);
  // Starts the thread that starts and ends traces on time (after the tables are loaded);
  // removes files of traces nobody defines any more.
  void start();
  void stop();

  // What create() answers: the API's status and EMQX's code ("" when created).
  struct Outcome {
    int status = 200;
    std::string code;
    std::string message;
  };
  Outcome create(const TraceSpec& spec);
  bool stop_trace(const std::string& name);  // false: no such trace
  bool remove(const std::string& name);      // false: no such trace
  void clear();
  std::vector<TraceSpec> list() const;
  std::optional<TraceSpec> get(const std::string& name) const;

  // This node's file of a trace: its path ("" when the trace is unknown).
  std::string file_of(const std::string& name) const;
  // Up to `max_bytes` of this node's file of `name` from `position` (what a peer's
  // node-query asks too). `found` is false for an unknown trace; a trace without a file
  // yet (waiting) reads as empty. `size` is the file's size.
  struct Read {
    bool found = false;
    std::string bytes;
    std::uint64_t size = 0;
    std::int64_t mtime = 0;  // Unix seconds; 0 without a file
  };
  Read read_trace_log(const std::string& name, std::uint64_t position,
                      std::uint64_t max_bytes) const;

  // Re-reads which traces run now (also every second, and when the table changes).
  void refresh();

 private:
  void on_entry(const tables::Entry& e);
  std::string path_for(const TraceSpec& s) const;
  void remove_stale_files();
  void run();

  const std::string node_;
  const std::string dir_;
  const std::uint64_t max_file_size_;
  const std::string default_payload_encode_;
  Tracer tracer_;
  tables::ReplicatedTables* tables_ = nullptr;

  mutable std::mutex mutex_;
  std::map<std::string, TraceSpec> specs_;                     // guarded by mutex_
  std::map<std::string, std::shared_ptr<TraceFile>> running_;  // by name; guarded by mutex_
  bool deleted_ = false;      // a definition went: its file goes at the next refresh; guarded
  std::mutex refresh_mutex_;  // one refresh at a time

  std::mutex wake_mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by wake_mutex_
  bool dirty_ = false;     // guarded by wake_mutex_
  std::thread thread_;
};

// Encoding of a definition in the table (exposed for tests).
std::string encode_trace(const TraceSpec& s);
std::optional<TraceSpec> decode_trace(std::string_view name, std::string_view value);

}  // namespace emqxd::session
