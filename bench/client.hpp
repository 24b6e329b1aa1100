#pragma once
// Client: one MQTT connection of the bench and the role it plays. Plain data owned by one
// Worker and touched only on its thread (worker.cpp drives the socket, worker_mqtt.cpp the
// protocol); the main thread reads them only after the workers have stopped.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "sequence_tracker.hpp"

namespace emqxd::bench {

enum class Role : std::uint8_t { Conn, Pub, Sub };

const char* to_string(Role r);

enum class ClientState : std::uint8_t {
  Waiting,        // not started yet
  TcpConnecting,  // non-blocking connect() in progress
  WaitConnAck,    // CONNECT written
  WaitSubAck,     // SUBSCRIBE written
  Ready,
  Closed,  // failed, lost, or never started
};

// Packet identifiers of a publisher's QoS 1/2 messages in flight. The slots form a ring of a
// power-of-two size at least twice the inflight limit; an identifier lives in slot
// (id & mask) and acquire() skips identifiers whose slot is still taken, so identifiers are
// unique among messages in flight without a 64 K table per publisher.
class PacketIdPool {
 public:
  enum State : std::uint8_t { Free = 0, AwaitAck, AwaitRec, AwaitComp };

  void init(std::uint32_t max_inflight);
  std::uint32_t max() const { return max_; }
  std::uint32_t in_use() const { return in_use_; }
  bool full() const { return in_use_ >= max_; }
  std::uint16_t acquire(State s);  // precondition: !full()
  State state(std::uint16_t id) const {
    const auto slot = id & mask_;
    return slot_id_[slot] == id ? static_cast<State>(slot_state_[slot]) : Free;
  }
  void set_state(std::uint16_t id, State s) { slot_state_[id & mask_] = s; }
  void release(std::uint16_t id);

 private:
  std::vector<std::uint16_t> slot_id_;
  std::vector<std::uint8_t> slot_state_;
  std::uint32_t mask_ = 0;
  std::uint32_t max_ = 0;
  std::uint32_t in_use_ = 0;
  std::uint16_t next_ = 1;
};

struct Publisher {
  std::string topic;
  std::string head;                 // fixed header, topic, packet id (0), v5 properties
  std::size_t id_offset = 0;        // of the packet id in head; 0 for QoS 0
  std::uint32_t stream = 0;         // = the client's sequence number
  std::uint64_t next_seq = 0;       // also: messages sent
  std::uint64_t quota = 0;          // messages this publisher may send (-L share)
  std::uint64_t owed = 0;           // rate-limited: slots that came while it could not send
  std::int64_t phase_ns = 0;        // offset of its slots within the interval
  std::uint32_t matching_subs = 0;  // pubsub: subscribers in this process matching topic
  bool finishing = false;           // send one last message flagged final, then done
  bool done = false;
  PacketIdPool ids;
};

struct StreamState {
  SequenceTracker tracker;
  std::uint8_t qos = 0;  // QoS of the last delivery
};

struct Subscriber {
  std::vector<std::string> filters;
  bool tracked = true;      // false with a shared subscription: deliveries are split
  bool subscribed = false;  // SUBACK granted every filter
  std::unordered_map<std::uint32_t, StreamState> streams;
  std::uint32_t last_stream = 0;      // one-entry lookup cache
  StreamState* last_state = nullptr;  // (unordered_map nodes do not move)
  StreamState& stream(std::uint32_t id) {
    if (last_state != nullptr && last_stream == id) return *last_state;
    last_state = &streams[id];
    last_stream = id;
    return *last_state;
  }
};

struct Client {
  Role role = Role::Conn;
  ClientState state = ClientState::Waiting;
  bool runnable = false;    // queued in the worker's run list
  bool want_write = false;  // EPOLLOUT armed
  bool settled = false;     // counted in subs_settled / pubs_settled
  int fd = -1;
  std::uint32_t seq_no = 0;  // %i
  std::uint32_t index = 0;   // within its role, over all workers: connection order
  std::uint16_t keepalive = 0;
  std::string client_id;
  std::int64_t started_ns = 0;    // monotonic, TCP connect started
  std::int64_t last_send_ns = 0;  // monotonic, for keepalive
  std::string out;                // bytes not yet written
  std::size_t out_off = 0;
  std::string partial;  // the start of a packet not fully read
  std::unique_ptr<Publisher> pub;
  std::unique_ptr<Subscriber> sub;

  std::size_t pending_out() const { return out.size() - out_off; }
};

}  // namespace emqxd::bench
