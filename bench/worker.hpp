#pragma once
// Worker: one thread, one epoll instance, and the clients placed on it for the whole run.
//
// The loop: start the connections whose time has come (-i / -R spread over all workers by
// global index), give rate-limited publishers the slots that passed, let runnable
// publishers write one batch each, then epoll_pwait2 until the next deadline, or not at
// all while some publisher can still write. Reads are level-triggered and large: up to
// four 256 KB reads per readable socket, every complete packet in them handled, and the
// acks they cause written with one send(). EPOLLOUT is armed only while a socket's buffer
// is full.
//
// Publishers write batches of up to 64 KB: as many PUBLISH as their rate, their
// inflight window (QoS 1/2) and their quota allow. Nothing on this path allocates: each
// client's buffers keep their capacity, packets are copied from per-publisher templates
// (encoded once with the project's codec) and patched, and what comes back is framed with
// mqtt::peek_frame and decoded with mqtt::decode.
//
// Threads: everything here runs on the worker's thread, except stats(), control and
// phase_seen(), which the main thread reads. clients() is for the main thread after join().
#include <sys/epoll.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "client.hpp"
#include "control.hpp"
#include "mqtt/codec.hpp"
#include "options.hpp"
#include "stats.hpp"

namespace emqxd::bench {

class Worker {
 public:
  // A publisher writes at most this much per turn; with many publishers on a worker, less,
  // so that their buffers together stay within kWorkerBatchBudget.
  static constexpr std::size_t kBatchBytes = 64 * 1024;
  static constexpr std::size_t kMinBatchBytes = 4 * 1024;
  static constexpr std::size_t kWorkerBatchBudget = 8 * 1024 * 1024;
  static constexpr std::size_t kReadChunk = 256 * 1024;
  static constexpr int kMaxReadsPerEvent = 4;
  static constexpr std::size_t kMaxPendingConnects = 256;  // per worker: handshakes in flight

  // `pubs_total`: publishers over all workers, for the phases of their slots. `options` and
  // `control` must outlive the worker.
  Worker(int id, const Options& options, Control& control, std::uint32_t pubs_total);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Before start() only.
  void add_client(Client&& c);

  void start();
  void join();

  const WorkerStats& stats() const { return stats_; }
  Phase phase_seen() const { return phase_seen_.load(std::memory_order_acquire); }
  std::vector<Client>& clients() { return clients_; }  // after join() only

 private:
  void run();
  void on_phase(Phase p);
  std::int64_t start_due_connections(std::int64_t now);
  std::int64_t publish_slots(std::int64_t now);
  void pump_runnable();
  void periodic(std::int64_t now);
  void update_unsettled();

  // Sockets (worker.cpp).
  void start_connect(Client& c, std::int64_t now);
  void on_event(Client& c, std::uint32_t events);
  void on_connected(Client& c);
  void on_readable(Client& c);
  bool flush(Client& c);  // false if the client was closed
  void set_want_write(Client& c, bool on);
  void close_client(Client& c, bool failed);
  void make_runnable(Client& c);

  // MQTT (worker_mqtt.cpp).
  std::size_t parse(Client& c, const char* data, std::size_t len, std::int64_t wall,
                    std::size_t& need);
  bool handle_packet(Client& c, const mqtt::FrameHeader& h, std::string_view body,
                     std::int64_t wall);
  void send_connect(Client& c);
  void on_connack(Client& c, const mqtt::ConnAck& a);
  void on_suback(Client& c, const mqtt::SubAck& a);
  void on_pub_response(Client& c, mqtt::PacketType type, std::uint16_t packet_id,
                       mqtt::ReasonCode reason);
  void append_ack(Client& c, const std::string& tmpl, std::uint16_t packet_id);
  void on_publish_received(Client& c, std::string_view payload, int qos, std::uint16_t packet_id,
                           std::int64_t wall);
  bool can_publish(const Client& c) const;
  void pump_publisher(Client& c);
  void append_publish(Client& c, std::int64_t wall);
  void settle(Client& c);

  int id_;
  const Options& o_;
  Control& control_;
  std::uint32_t pubs_total_;
  WorkerStats stats_;
  std::atomic<Phase> phase_seen_{Phase::Subscribing};
  std::thread thread_;

  std::vector<Client> clients_;
  int epfd_ = -1;
  Phase phase_ = Phase::Subscribing;
  std::int64_t now_ = 0;  // monotonic, refreshed around each epoll wait
  std::vector<char> rbuf_;
  std::vector<Client*> runnable_;
  std::vector<Client*> running_;
  std::uint32_t pending_connects_ = 0;
  std::uint32_t inflight_ = 0;

  // Connection schedule: clients of each role in global order, and a cursor.
  struct Schedule {
    std::vector<Client*> clients;
    std::size_t next = 0;
    std::int64_t base_ns = -1;  // -1: not open yet
  };
  Schedule conn_sched_;  // plain connections and subscribers, from the start
  Schedule pub_sched_;   // publishers, from pub_start_ns
  std::int64_t connect_interval_ns_ = 0;

  // Rate-limited publishing: publishers in slot order, cycle and position of the next slot.
  std::vector<Client*> slots_;
  std::size_t slot_pos_ = 0;
  std::int64_t slot_cycle_ = 0;
  std::int64_t msg_interval_ns_ = 0;
  std::size_t batch_bytes_ = kBatchBytes;

  std::int64_t next_periodic_ns_ = 0;
  std::int64_t next_unsettled_ns_ = 0;

  // Encoded once: the 4-byte acks (packet id patched in), PINGREQ and DISCONNECT.
  std::string puback_, pubrec_, pubrel_, pubcomp_, pingreq_, disconnect_;
  std::uint32_t max_packet_size_ = 256 * 1024 * 1024;
};

}  // namespace emqxd::bench
