// Worker: the thread, its epoll loop, sockets and schedules. The MQTT side of a client is in
// worker_mqtt.cpp.
#include "worker.hpp"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "clock.hpp"

namespace emqxd::bench {
namespace {

constexpr std::int64_t kPollNs = 20 * kNsPerMs;  // how often the phase is looked at
// Publish slots due within this much are served now: one wake-up per half millisecond at
// most, instead of one per slot (a wake-up costs more than a send on a VM). Send times still
// go into the payloads exactly; only the schedule gets this much jitter.
constexpr std::int64_t kSlotSlackNs = 500'000;
constexpr std::int64_t kPeriodicNs = 250 * kNsPerMs;  // keepalive and timeout scans
constexpr std::int64_t kFar = std::numeric_limits<std::int64_t>::max() / 2;

mqtt::ProtocolVersion version_of(const Options& o) {
  return static_cast<mqtt::ProtocolVersion>(o.version);
}

std::string encode_packet(const mqtt::Packet& p, const Options& o) {
  std::string out;
  mqtt::encode(p, version_of(o), out);
  return out;
}

}  // namespace

const char* to_string(Role r) {
  switch (r) {
    case Role::Conn:
      return "conn";
    case Role::Pub:
      return "pub";
    case Role::Sub:
      return "sub";
  }
  return "?";
}

void PacketIdPool::init(std::uint32_t max_inflight) {
  max_ = std::clamp<std::uint32_t>(max_inflight, 1, 65535);
  std::uint32_t size = 16;
  while (size < 2 * max_ && size < 65536)
    size *= 2;
  slot_id_.assign(size, 0);
  slot_state_.assign(size, Free);
  mask_ = size - 1;
  in_use_ = 0;
}

std::uint16_t PacketIdPool::acquire(State s) {
  while (true) {
    const std::uint16_t id = next_;
    next_ = next_ == 65535 ? 1 : static_cast<std::uint16_t>(next_ + 1);
    const auto slot = id & mask_;
    if (slot_state_[slot] == Free) {
      slot_id_[slot] = id;
      slot_state_[slot] = s;
      ++in_use_;
      return id;
    }
  }
}

void PacketIdPool::release(std::uint16_t id) {
  const auto slot = id & mask_;
  if (slot_id_[slot] == id && slot_state_[slot] != Free) {
    slot_state_[slot] = Free;
    --in_use_;
  }
}

Worker::Worker(int id, const Options& options, Control& control, std::uint32_t pubs_total)
    : id_(id), o_(options), control_(control), pubs_total_(pubs_total) {
  rbuf_.resize(kReadChunk);
  connect_interval_ns_ = o_.conn_rate > 0 ? static_cast<std::int64_t>(1e9 / o_.conn_rate)
                                          : static_cast<std::int64_t>(o_.interval_ms * 1e6);
  msg_interval_ns_ = static_cast<std::int64_t>(o_.msg_interval_ms * 1e6);
  puback_ = encode_packet(mqtt::PubAck{1, mqtt::ReasonCode::Success, {}}, o_);
  pubrec_ = encode_packet(mqtt::PubRec{1, mqtt::ReasonCode::Success, {}}, o_);
  pubrel_ = encode_packet(mqtt::PubRel{1, mqtt::ReasonCode::Success, {}}, o_);
  pubcomp_ = encode_packet(mqtt::PubComp{1, mqtt::ReasonCode::Success, {}}, o_);
  pingreq_ = encode_packet(mqtt::PingReq{}, o_);
  disconnect_ = encode_packet(mqtt::Disconnect{}, o_);
}

Worker::~Worker() {
  if (thread_.joinable()) thread_.join();
}

void Worker::add_client(Client&& c) {
  clients_.push_back(std::move(c));
}

void Worker::start() {
  for (auto& c : clients_) {
    if (c.role == Role::Pub) {
      pub_sched_.clients.push_back(&c);
      c.pub->phase_ns = msg_interval_ns_ * c.index / std::max<std::uint32_t>(pubs_total_, 1);
    } else {
      conn_sched_.clients.push_back(&c);
    }
  }
  auto by_index = [](const Client* a, const Client* b) { return a->index < b->index; };
  std::sort(conn_sched_.clients.begin(), conn_sched_.clients.end(), by_index);
  std::sort(pub_sched_.clients.begin(), pub_sched_.clients.end(), by_index);
  if (msg_interval_ns_ > 0) slots_ = pub_sched_.clients;  // index order = phase order
  if (!pub_sched_.clients.empty()) {
    batch_bytes_ =
        std::clamp(kWorkerBatchBudget / pub_sched_.clients.size(), kMinBatchBytes, kBatchBytes);
  }
  conn_sched_.base_ns = control_.start_ns;
  thread_ = std::thread([this] { run(); });
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::run() {
  const std::string name = "bench-w" + std::to_string(id_);  // for top -H and perf
  pthread_setname_np(pthread_self(), name.c_str());
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  std::vector<epoll_event> events(512);
  bool have_pwait2 = true;
  while (true) {
    now_ = mono_ns();
    const Phase p = control_.phase.load(std::memory_order_acquire);
    if (p != phase_) {
      on_phase(p);
      phase_seen_.store(p, std::memory_order_release);
    }
    if (phase_ == Phase::Stopping) break;

    std::int64_t deadline = now_ + kPollNs;
    deadline = std::min(deadline, start_due_connections(now_));
    deadline = std::min(deadline, publish_slots(now_ + kSlotSlackNs) - kSlotSlackNs);
    if (now_ >= next_periodic_ns_) {
      periodic(now_);
      next_periodic_ns_ = now_ + kPeriodicNs;
    }
    if (phase_ == Phase::Finishing && now_ >= next_unsettled_ns_) {
      update_unsettled();
      next_unsettled_ns_ = now_ + 5 * kNsPerMs;
    }
    pump_runnable();

    const std::int64_t wait =
        runnable_.empty() ? std::max<std::int64_t>(0, deadline - mono_ns()) : 0;
    int n = -1;
    if (have_pwait2) {
      timespec ts{static_cast<time_t>(wait / kNsPerSec), static_cast<long>(wait % kNsPerSec)};
      n = epoll_pwait2(epfd_, events.data(), static_cast<int>(events.size()), &ts, nullptr);
      if (n < 0 && errno == ENOSYS) have_pwait2 = false;
    }
    if (!have_pwait2) {
      n = epoll_wait(epfd_, events.data(), static_cast<int>(events.size()),
                     static_cast<int>((wait + kNsPerMs - 1) / kNsPerMs));
    }
    now_ = mono_ns();
    for (int i = 0; i < n; ++i) {
      on_event(*static_cast<Client*>(events[i].data.ptr), events[i].events);
    }
  }
  for (auto& c : clients_) {
    if (c.fd < 0) continue;
    if (c.state == ClientState::Ready || c.state == ClientState::WaitSubAck) {
      c.out.append(disconnect_);
      if (c.pending_out() > 0) {
        (void)::send(c.fd, c.out.data() + c.out_off, c.pending_out(), MSG_NOSIGNAL | MSG_DONTWAIT);
      }
    }
    ::close(c.fd);
    c.fd = -1;
  }
  ::close(epfd_);
}

void Worker::on_phase(Phase p) {
  phase_ = p;
  if (p == Phase::Publishing || p == Phase::Finishing) {
    if (pub_sched_.base_ns < 0) pub_sched_.base_ns = control_.pub_start_ns.load();
  }
  if (p != Phase::Finishing) return;
  // Publishers not started stay so; the others send one last message flagged final.
  pub_sched_.next = pub_sched_.clients.size();
  for (Client* c : pub_sched_.clients) {
    Publisher& pub = *c->pub;
    if (c->state == ClientState::Waiting) {
      c->state = ClientState::Closed;
      settle(*c);
    } else if (c->state == ClientState::Ready && !pub.done) {
      if (pub.next_seq == 0) {
        pub.done = true;
        settle(*c);
      } else {
        pub.finishing = true;
        if (!c->want_write) make_runnable(*c);
      }
    }
  }
  update_unsettled();
}

std::int64_t Worker::start_due_connections(std::int64_t now) {
  std::int64_t next = kFar;
  for (Schedule* s : {&conn_sched_, &pub_sched_}) {
    if (s->base_ns < 0) continue;
    while (s->next < s->clients.size()) {
      Client& c = *s->clients[s->next];
      const std::int64_t due = s->base_ns + connect_interval_ns_ * c.index;
      if (due > now) {
        next = std::min(next, due);
        break;
      }
      if (pending_connects_ >= kMaxPendingConnects) break;  // an event will free one
      ++s->next;
      start_connect(c, now);
    }
  }
  return next;
}

std::int64_t Worker::publish_slots(std::int64_t now) {
  if (phase_ != Phase::Publishing || slots_.empty()) return kFar;
  const std::int64_t base = pub_sched_.base_ns;
  while (true) {
    Client& c = *slots_[slot_pos_];
    const std::int64_t due = base + slot_cycle_ * msg_interval_ns_ + c.pub->phase_ns;
    if (due > now) return due;
    if (c.state == ClientState::Ready && !c.pub->done) {
      ++c.pub->owed;
      if (!c.want_write) make_runnable(c);
    }
    if (++slot_pos_ == slots_.size()) {
      slot_pos_ = 0;
      ++slot_cycle_;
    }
  }
}

void Worker::make_runnable(Client& c) {
  if (c.runnable) return;
  c.runnable = true;
  runnable_.push_back(&c);
}

void Worker::pump_runnable() {
  running_.swap(runnable_);
  for (Client* c : running_) {
    c->runnable = false;
    if (c->fd < 0 || c->state != ClientState::Ready || !c->pub) continue;
    pump_publisher(*c);
    if (c->fd >= 0 && !c->want_write && can_publish(*c)) make_runnable(*c);
  }
  running_.clear();
  stats_.inflight.set(inflight_);
}

void Worker::periodic(std::int64_t now) {
  const std::int64_t timeout = static_cast<std::int64_t>(o_.connect_timeout_s * 1e9);
  for (auto& c : clients_) {
    if (c.fd < 0) continue;
    switch (c.state) {
      case ClientState::TcpConnecting:
      case ClientState::WaitConnAck:
      case ClientState::WaitSubAck:
        if (now - c.started_ns > timeout) close_client(c, true);
        break;
      case ClientState::Ready:
        // PINGREQ after 3/4 of the keep alive without sending: the broker allows 1.5x
        // [MQTT-3.1.2-24], and this scan runs only every kPeriodicNs.
        if (c.keepalive != 0 &&
            now - c.last_send_ns >= std::int64_t{c.keepalive} * kNsPerSec * 3 / 4) {
          c.out.append(pingreq_);
          flush(c);
        }
        break;
      default:
        break;
    }
  }
}

void Worker::update_unsettled() {
  std::uint64_t n = 0;
  for (Client* c : pub_sched_.clients) {
    if (c->state == ClientState::Closed) continue;
    const Publisher& p = *c->pub;
    if (!p.done || p.ids.in_use() > 0 || c->pending_out() > 0) ++n;
  }
  stats_.unsettled_pubs.set(n);
}

void Worker::start_connect(Client& c, std::int64_t now) {
  const auto& server = c.role == Role::Sub ? o_.sub_server : o_.server;
  c.started_ns = now;
  stats_.connecting.add();
  c.fd = ::socket(server.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    close_client(c, true);
    return;
  }
  int one = 1;
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!o_.sources.empty()) {
    // Let connect() pick the port for the whole 4-tuple, so each source address offers its
    // own ~28 K ephemeral ports per server address.
    ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    const auto& src =
        o_.sources[(c.index + static_cast<std::uint32_t>(c.role)) % o_.sources.size()];
    if (::bind(c.fd, reinterpret_cast<const sockaddr*>(&src.addr), src.len) != 0) {
      close_client(c, true);
      return;
    }
  }
  c.state = ClientState::TcpConnecting;
  ++pending_connects_;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP;
  ev.data.ptr = &c;
  c.want_write = true;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) != 0) {
    close_client(c, true);
    return;
  }
  const int rc = ::connect(c.fd, reinterpret_cast<const sockaddr*>(&server.addr), server.len);
  if (rc == 0) {
    on_connected(c);
  } else if (errno != EINPROGRESS) {
    close_client(c, true);
  }
}

void Worker::on_event(Client& c, std::uint32_t events) {
  if (c.fd < 0) return;  // closed earlier in this batch of events
  if (c.state == ClientState::TcpConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
        (events & (EPOLLERR | EPOLLHUP)) != 0) {
      close_client(c, true);
    } else if ((events & EPOLLOUT) != 0) {
      on_connected(c);
    }
    return;
  }
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP | EPOLLRDHUP)) != 0) {
    on_readable(c);
    if (c.fd < 0) return;
  }
  if ((events & EPOLLOUT) != 0 && flush(c) && c.pending_out() == 0) {
    set_want_write(c, false);
    if (c.pub && c.state == ClientState::Ready && can_publish(c)) make_runnable(c);
  }
}

void Worker::on_connected(Client& c) {
  set_want_write(c, false);
  c.state = ClientState::WaitConnAck;
  send_connect(c);
  flush(c);
}

void Worker::on_readable(Client& c) {
  std::size_t have = c.partial.size();
  if (have > 0) {
    if (have >= rbuf_.size()) rbuf_.resize(have * 2);
    std::memcpy(rbuf_.data(), c.partial.data(), have);
    c.partial.clear();
  }
  for (int i = 0; i < kMaxReadsPerEvent; ++i) {
    const std::size_t space = rbuf_.size() - have;
    const ssize_t n = ::recv(c.fd, rbuf_.data() + have, space, MSG_DONTWAIT);
    if (n == 0) {
      close_client(c, true);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      close_client(c, true);
      return;
    }
    have += static_cast<std::size_t>(n);
    std::size_t need = 0;
    const std::size_t used = parse(c, rbuf_.data(), have, wall_ns(), need);
    if (c.fd < 0) return;
    have -= used;
    if (have > 0 && used > 0) std::memmove(rbuf_.data(), rbuf_.data() + used, have);
    if (need > rbuf_.size()) rbuf_.resize(need);
    if (static_cast<std::size_t>(n) < space) break;  // the socket is drained
  }
  if (have > 0) c.partial.assign(rbuf_.data(), have);
  if (c.pending_out() > 0) flush(c);
}

bool Worker::flush(Client& c) {
  while (c.pending_out() > 0) {
    const ssize_t n =
        ::send(c.fd, c.out.data() + c.out_off, c.pending_out(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      c.out_off += static_cast<std::size_t>(n);
      c.last_send_ns = now_;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      set_want_write(c, true);
      return true;
    }
    close_client(c, true);
    return false;
  }
  c.out.clear();
  c.out_off = 0;
  return true;
}

void Worker::set_want_write(Client& c, bool on) {
  if (c.want_write == on || c.fd < 0) return;
  c.want_write = on;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP | (on ? EPOLLOUT : 0u);
  ev.data.ptr = &c;
  ::epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void Worker::close_client(Client& c, bool failed) {
  if (c.fd >= 0) {
    ::close(c.fd);
    c.fd = -1;
  }
  const ClientState prev = c.state;
  c.state = ClientState::Closed;
  c.want_write = false;
  if (prev == ClientState::TcpConnecting || prev == ClientState::WaitConnAck) --pending_connects_;
  if (failed) {
    switch (prev) {
      case ClientState::Waiting:
      case ClientState::TcpConnecting:
      case ClientState::WaitConnAck:
        stats_.conn_failed.add();
        break;
      case ClientState::WaitSubAck:
        stats_.sub_failed.add();
        break;
      case ClientState::Ready:
        stats_.conn_lost.add();
        break;
      case ClientState::Closed:
        break;
    }
  }
  if (c.pub) {
    inflight_ -= c.pub->ids.in_use();
    stats_.inflight.set(inflight_);
  }
  std::string().swap(c.out);
  std::string().swap(c.partial);
  c.out_off = 0;
  settle(c);
}

void Worker::settle(Client& c) {
  if (c.settled) return;
  if (c.role == Role::Sub) {
    c.settled = true;
    stats_.subs_settled.add();
  } else if (c.role == Role::Pub && (c.state == ClientState::Closed || c.pub->done)) {
    c.settled = true;
    stats_.pubs_settled.add();
  }
}

}  // namespace emqxd::bench
