#pragma once
// SessionManager: the sessions of one worker and their life (MQTT section 4.1): open a
// session for a CONNECT (create, resume, or take it over from another worker or node),
// keep it while offline (expiry and will-delay timers), end it (wills, shared-group
// redispatch), and hand it to another node or take one from it. One per worker, owned by
// its WorkerCore; no threads, no Asio: timers and cross-worker messages go through the
// Scheduler, so unit tests drive it with a manual clock.
//
// The node's client id -> session map (NodeState::registry) is shared by the managers of
// all workers; it is taken on CONNECT, disconnect and expiry only, never per message.
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "session/node_state.hpp"
#include "session/scheduler.hpp"
#include "session/session.hpp"
#include "session/session_state.hpp"

namespace emqxd::session {

class Channel;
class WorkerCore;

class SessionManager {
 public:
  explicit SessionManager(WorkerCore& core);
  ~SessionManager();

  // --- for the channels (through the Hub) ---
  // Finds, takes over or creates the session of `client_id`; answers with
  // Channel::on_session_ready, now or in a later turn.
  void open(Channel& ch, const std::string& client_id, bool clean_start);
  // The channel's connection closed; `s` (may be null) goes offline.
  void closed(Channel& ch, Session* s);

  // --- for the worker core ---
  Session* find(std::uint64_t sid);
  // A delivery for a session that is not (or no longer) here: kept for a session on its
  // way here, sent after one that moved to another node; false if neither.
  bool redirect(Delivery& d);
  // A delivery that followed a session here from its previous node.
  void deliver_moved(const mqtt::MessagePtr& m, const broker::SessionTarget& t);
  void publish_pending_wills();  // shutdown: sessions end with the process
  std::size_t size() const { return sessions_.size(); }

  // --- the cluster's session calls (this worker's thread) ---
  // Hands the session `sid` to another node: its connection closes with 0x8E and the
  // session leaves; nullopt when there is none to hand over (`found` says whether there
  // was a session: with clean_start, or expiry 0, it ends). Deliveries for it that reach
  // this node afterwards go to `to`.
  std::optional<SessionState> hand_over(std::uint64_t sid, bool clean_start, broker::NodeIndex to,
                                        bool& found);
  // `client_id` connected to another node since: its connection here closes (0x8E).
  void revoke(const std::string& client_id);
  // Each session's connected channel.
  template <class F>
  void for_each_connected(F&& f) {
    for (auto& [sid, slot] : sessions_) {
      if (slot.session && slot.session->channel != nullptr) f(*slot.session->channel);
    }
  }

  // Every session here, connected or not (the HTTP API's listings).
  template <class F>
  void for_each(F&& f) {
    for (auto& [sid, slot] : sessions_) {
      if (slot.session) f(*slot.session);
    }
  }
  // The HTTP API's kick (DELETE /api/v5/clients/{id}), as EMQX's kickout: the connection,
  // if any, closes with 0x98 (administrative action) and the session ends with it. False
  // when `sid` is not here, or is moving to another node.
  bool kick(std::uint64_t sid);

  // Before the worker starts: a session restored from storage (stored under `store_uid`,
  // its deliveries under their store_seq), offline since `went_offline`.
  void restore(SessionState&& st, std::uint64_t store_uid,
               Scheduler::Clock::time_point went_offline);

 private:
  struct Slot {
    std::unique_ptr<Session> session;
    std::shared_ptr<Timer> timer;  // expiry / will delay while offline
    Scheduler::Clock::time_point went_offline{};
  };
  struct Move {  // a session leaving this worker, waiting for the barrier
    std::uint64_t session = 0;
    std::string client_id;
    std::uint32_t to = 0;
    std::size_t acks_left = 0;
  };
  // Sessions handed over to another node, for the deliveries still on their way here.
  static constexpr std::chrono::seconds kMovedFor{30};
  struct Moved {
    std::string client_id;
    broker::NodeIndex to = 0;
    Scheduler::Clock::time_point at{};
  };

  SessionManager* on(std::uint32_t worker);
  Session* create(const std::string& client_id);
  void open_local(Channel& ch, const std::string& client_id, bool clean_start);
  void on_claimed(Channel* ch, std::uint64_t token, const std::string& client_id, bool clean_start,
                  Claim claim);
  void install(SessionState&& state);
  void retry_open(Channel* ch, std::string client_id, bool clean_start, int attempt);
  void takeover(std::string client_id, std::uint64_t sid, std::uint32_t to, bool clean_start);
  void barrier_ack(std::uint64_t move_id);
  void takeover_done(std::string client_id, std::uint64_t sid, std::unique_ptr<Session> moved);
  // The connection holding `s` goes: 0x8E to its client, the session stays.
  void kick_for_takeover(Session& s);
  void go_offline(Slot& slot);
  void on_offline_timer(std::uint64_t sid);
  // Ends a session: unsubscribes it and publishes a pending will ("or the Session ends,
  // whichever happens first" [MQTT-3.1.3-9]).
  void discard(std::uint64_t sid);
  std::unique_ptr<Session> extract(std::uint64_t sid);
  void redispatch_shared(Session& s);
  void publish_pending_will(Session& s);
  void connected_event(const Channel& ch);
  void disconnected_event(const Channel& ch);

  WorkerCore& core_;
  NodeState& node_;
  Scheduler& sched_;
  std::unordered_map<std::uint64_t, Slot> sessions_;
  std::unordered_map<std::string, Channel*> connecting_;  // waiting for a takeover
  std::unordered_map<Channel*, std::uint64_t> claiming_;  // waiting for the cluster
  std::uint64_t next_claim_ = 1;
  std::unordered_map<std::uint64_t, Moved> moved_;
  std::unordered_set<Channel*> retrying_;  // waiting for another takeover to end
  // Deliveries for sessions on their way here (a takeover between workers).
  std::unordered_map<std::uint64_t, std::vector<Delivery>> arriving_;
  std::unordered_map<std::uint64_t, Move> moves_;
  std::uint64_t next_move_ = 1;
};

}  // namespace emqxd::session
