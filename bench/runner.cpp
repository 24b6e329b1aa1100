#include "runner.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <limits>
#include <thread>

#include "broker/topic.hpp"
#include "clock.hpp"
#include "topic_template.hpp"

namespace emqxd::bench {
namespace {

std::atomic<int> g_stop_requests{0};

constexpr std::int64_t kTickNs = 20 * kNsPerMs;
constexpr std::int64_t kDrainIdleNs = 500 * kNsPerMs;
constexpr std::int64_t kDrainSilenceNs = 2 * kNsPerSec;
constexpr std::uint64_t kUnlimited = std::numeric_limits<std::uint64_t>::max();
// Matching every subscriber against every publisher at the end costs subs x pubs x filters
// topic matches; above this the stream ends come from final markers only.
constexpr std::uint64_t kMaxEndMatches = 50'000'000;

std::string short_hostname() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "emqxd";
  std::string s(name);
  return s.substr(0, s.find('.'));
}

std::string rate(double per_s) {
  char buf[32];
  if (per_s >= 1e6) {
    std::snprintf(buf, sizeof buf, "%.2fM", per_s / 1e6);
  } else if (per_s >= 1e4) {
    std::snprintf(buf, sizeof buf, "%.1fk", per_s / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", per_s);
  }
  return buf;
}

double span_rate(std::uint64_t n, std::int64_t first, std::int64_t last, double fallback_s) {
  if (n == 0) return 0;
  double span = static_cast<double>(last - first) / 1e9;
  if (first == 0 || span < 0.001) span = fallback_s;
  return span > 0 ? static_cast<double>(n) / span : 0;
}

}  // namespace

struct Runner::Totals {
  std::uint64_t connecting = 0, connected = 0, conn_failed = 0, conn_lost = 0;
  std::uint64_t subscribed = 0, sub_failed = 0, subs_settled = 0, pubs_settled = 0;
  std::uint64_t sent = 0, acked = 0, pub_errors = 0, inflight = 0, unsettled = 0;
  std::uint64_t received = 0, foreign = 0, negative = 0, protocol_errors = 0;
  std::uint64_t finals_expected = 0, finals_received = 0;
  std::int64_t first_sent = 0, last_sent = 0, first_recv = 0, last_recv = 0;
  bool all_finishing = true;
};

void Runner::request_stop() {
  g_stop_requests.fetch_add(1);
}

Runner::Runner(const Options& o) : o_(o) {}

Runner::~Runner() {
  control_.phase.store(Phase::Stopping);
  for (auto& w : workers_)
    w->join();
}

void Runner::build_clients() {
  switch (o_.mode) {
    case Mode::Conn:
      conns_ = o_.count;
      break;
    case Mode::Pub:
      pubs_ = o_.count;
      break;
    case Mode::Sub:
      subs_ = o_.count;
      break;
    case Mode::PubSub:
      pubs_ = o_.count;
      subs_ = o_.sub_count;
      break;
  }
  const std::uint32_t total = pubs_ + subs_ + conns_;
  std::uint32_t threads = o_.threads != 0 ? o_.threads : std::thread::hardware_concurrency();
  threads = std::clamp<std::uint32_t>(threads, 1, std::max<std::uint32_t>(total, 1));
  for (std::uint32_t i = 0; i < threads; ++i) {
    workers_.push_back(std::make_unique<Worker>(static_cast<int>(i), o_, control_, pubs_));
  }
  const std::string prefix = o_.prefix.empty() ? short_hostname() : o_.prefix;
  auto make = [&](Role role, std::uint32_t k) {
    Client c;
    c.role = role;
    c.index = k;
    c.seq_no = o_.start_number + k;
    c.client_id = prefix + "_bench_" + to_string(role) + "_" + std::to_string(c.seq_no);
    return c;
  };

  // With publishers and subscribers in one process and two threads or more, each role gets
  // its own workers (in proportion to their numbers): a subscriber's acks and receive
  // timestamps then never wait behind a publisher's batches.
  std::uint32_t pub_base = 0, pub_threads = threads, sub_base = 0, sub_threads = threads;
  if (pubs_ > 0 && subs_ > 0 && threads >= 2) {
    const double share = static_cast<double>(threads) * subs_ / (subs_ + pubs_);
    sub_threads =
        std::clamp<std::uint32_t>(static_cast<std::uint32_t>(share + 0.5), 1, threads - 1);
    pub_base = sub_threads;
    pub_threads = threads - sub_threads;
  }

  const std::string zeros(o_.size, '\0');
  const auto version = static_cast<mqtt::ProtocolVersion>(o_.version);
  std::vector<Client> pubs, subs;
  for (std::uint32_t k = 0; k < pubs_; ++k) {
    Client c = make(Role::Pub, k);
    auto p = std::make_unique<Publisher>();
    p->topic = expand_topic(o_.topic, c.seq_no, c.client_id, o_.username);
    p->stream = c.seq_no;
    p->quota = kUnlimited;
    if (o_.limit != 0) p->quota = o_.limit / pubs_ + (k < o_.limit % pubs_ ? 1 : 0);
    // The PUBLISH template: encoded once by the codec; the worker copies its head and
    // patches the packet id, then writes the payload header and padding.
    mqtt::Publish m;
    m.qos = static_cast<mqtt::QoS>(o_.qos);
    m.retain = o_.retain;
    m.topic = p->topic;
    m.packet_id = o_.qos > 0 ? 1 : 0;
    m.payload = zeros;
    std::string encoded;
    mqtt::encode(m, version, encoded);
    p->head = encoded.substr(0, encoded.size() - zeros.size());
    auto frame = mqtt::peek_frame(encoded, std::numeric_limits<std::uint32_t>::max());
    p->id_offset = o_.qos > 0 ? frame->header_length + 2 + p->topic.size() : 0;
    c.pub = std::move(p);
    pubs.push_back(std::move(c));
  }
  for (std::uint32_t k = 0; k < subs_; ++k) {
    Client c = make(Role::Sub, k);
    auto s = std::make_unique<Subscriber>();
    for (const auto& t : o_.sub_topics) {
      s->filters.push_back(expand_topic(t, c.seq_no, c.client_id, o_.username));
      if (is_shared_filter(s->filters.back())) s->tracked = false;
    }
    c.sub = std::move(s);
    subs.push_back(std::move(c));
  }
  finals_exact_ = o_.mode == Mode::PubSub && count_matching_subscribers(pubs, subs);
  for (std::uint32_t k = 0; k < pubs_; ++k) {
    workers_[pub_base + k % pub_threads]->add_client(std::move(pubs[k]));
  }
  for (std::uint32_t k = 0; k < subs_; ++k) {
    workers_[sub_base + k % sub_threads]->add_client(std::move(subs[k]));
  }
  for (std::uint32_t k = 0; k < conns_; ++k) {
    workers_[k % threads]->add_client(make(Role::Conn, k));
  }
}

bool Runner::count_matching_subscribers(std::vector<Client>& pubs,
                                        const std::vector<Client>& subs) const {
  if (std::min(o_.qos, o_.sub_qos) == 0) return false;  // a final message may be dropped
  const std::uint64_t work = std::uint64_t{subs_} * pubs_ * o_.sub_topics.size();
  if (work > kMaxEndMatches) return false;
  for (const auto& sub : subs) {
    if (!sub.sub->tracked) return false;
  }
  for (auto& pub : pubs) {
    for (const auto& sub : subs) {
      const auto& filters = sub.sub->filters;
      if (std::any_of(filters.begin(), filters.end(), [&](const std::string& f) {
            return broker::topic_matches(f, pub.pub->topic);
          })) {
        ++pub.pub->matching_subs;
      }
    }
  }
  return true;
}

Runner::Totals Runner::totals() const {
  Totals t;
  t.first_sent = std::numeric_limits<std::int64_t>::max();
  t.first_recv = t.first_sent;
  for (const auto& w : workers_) {
    const WorkerStats& s = w->stats();
    t.connecting += s.connecting.get();
    t.connected += s.connected.get();
    t.conn_failed += s.conn_failed.get();
    t.conn_lost += s.conn_lost.get();
    t.subscribed += s.subscribed.get();
    t.sub_failed += s.sub_failed.get();
    t.subs_settled += s.subs_settled.get();
    t.pubs_settled += s.pubs_settled.get();
    t.sent += s.sent.get();
    t.acked += s.acked.get();
    t.pub_errors += s.pub_errors.get();
    t.inflight += s.inflight.get();
    t.unsettled += s.unsettled_pubs.get();
    t.received += s.received.get();
    t.foreign += s.foreign.get();
    t.negative += s.negative_latency.get();
    t.protocol_errors += s.protocol_errors.get();
    t.finals_expected += s.finals_expected.get();
    t.finals_received += s.finals_received.get();
    if (auto v = s.first_sent_ns.load(); v != 0) t.first_sent = std::min(t.first_sent, v);
    if (auto v = s.first_recv_ns.load(); v != 0) t.first_recv = std::min(t.first_recv, v);
    t.last_sent = std::max(t.last_sent, s.last_sent_ns.load());
    t.last_recv = std::max(t.last_recv, s.last_recv_ns.load());
    if (w->phase_seen() < Phase::Finishing) t.all_finishing = false;
  }
  if (t.first_sent == std::numeric_limits<std::int64_t>::max()) t.first_sent = 0;
  if (t.first_recv == std::numeric_limits<std::int64_t>::max()) t.first_recv = 0;
  return t;
}

void Runner::print_progress(double t, const Totals& now, const Totals& before,
                            const HistogramSnapshot& window) {
  std::string line;
  char buf[160];
  std::snprintf(buf, sizeof buf, "[%6.1fs] conns %llu/%u", t,
                static_cast<unsigned long long>(now.connected), pubs_ + subs_ + conns_);
  line += buf;
  const auto failed = now.conn_failed + now.conn_lost + now.sub_failed;
  if (failed > 0) {
    std::snprintf(buf, sizeof buf, " (%llu failed)", static_cast<unsigned long long>(failed));
    line += buf;
  }
  if (conns_ > 0) line += " +" + rate(static_cast<double>(now.connected - before.connected)) + "/s";
  if (pubs_ > 0) {
    line += " | sent " + rate(static_cast<double>(now.sent - before.sent)) + "/s";
    if (o_.qos > 0) {
      std::snprintf(buf, sizeof buf, " inflight %llu",
                    static_cast<unsigned long long>(now.inflight));
      line += buf;
    }
  }
  if (subs_ > 0) {
    line += " | recv " + rate(static_cast<double>(now.received - before.received)) + "/s";
    if (window.count() > 0) {
      line += " p50 " + format_ns(window.percentile(0.5)) + " p99 " +
              format_ns(window.percentile(0.99));
    }
  }
  std::fprintf(stderr, "%s\n", line.c_str());
}

Summary Runner::run() {
  build_clients();
  const std::int64_t start = mono_ns();
  control_.start_ns = start;
  std::int64_t pub_start = 0;
  if (subs_ == 0 && pubs_ > 0) {  // pub: nothing to wait for
    pub_start = start;
    control_.pub_start_ns.store(start);
    control_.phase.store(Phase::Publishing);
  }
  for (auto& w : workers_)
    w->start();

  const auto duration_ns = static_cast<std::int64_t>(o_.duration_s * 1e9);
  const auto idle_ns = static_cast<std::int64_t>(o_.idle_timeout_s * 1e9);
  const auto drain_ns = static_cast<std::int64_t>(o_.drain_timeout_s * 1e9);
  const std::uint32_t total = pubs_ + subs_ + conns_;
  Totals last_progress = totals();
  HistogramSnapshot last_latency;
  std::int64_t next_progress = start + kNsPerSec;
  std::int64_t finish_at = 0;
  std::int64_t last_recv_change = start;
  std::uint64_t last_received = 0;
  const char* reason = nullptr;
  bool announced_subscribed = false;

  auto enter = [&](Phase p, std::int64_t now) {
    if (p == Phase::Finishing) finish_at = now;
    control_.phase.store(p, std::memory_order_release);
  };

  while (true) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(kTickNs));
    const std::int64_t now = mono_ns();
    const Totals t = totals();
    const Phase phase = control_.phase.load();
    if (t.received != last_received) {
      last_received = t.received;
      last_recv_change = now;
    }
    const int stops = g_stop_requests.load();
    if (stops >= 2) {
      reason = "interrupted";
      break;
    }
    if (stops == 1 && reason == nullptr) {
      reason = "interrupted";
      if (phase >= Phase::Finishing || pubs_ == 0) break;
      enter(Phase::Finishing, now);
      continue;
    }
    if (t.conn_failed + t.conn_lost + t.sub_failed >= total) {
      if (reason == nullptr) reason = "failed";
      break;
    }
    if (subs_ > 0 && !announced_subscribed && t.subs_settled >= subs_) {
      announced_subscribed = true;
      if (!o_.quiet) {
        std::fprintf(stderr, "emqxd-bench: %llu/%u subscribed\n",
                     static_cast<unsigned long long>(t.subscribed), subs_);
      }
    }

    if (phase == Phase::Subscribing && pubs_ > 0) {
      if (t.subs_settled >= subs_) {
        pub_start = now;
        control_.pub_start_ns.store(now);
        enter(Phase::Publishing, now);
      }
    } else if (phase == Phase::Subscribing) {  // sub, conn
      if (duration_ns > 0 && now - start >= duration_ns) {
        reason = "duration";
        break;
      }
      if (o_.mode == Mode::Sub && o_.limit != 0 && t.received >= o_.limit) {
        reason = "limit";
        break;
      }
      if (o_.mode == Mode::Sub && idle_ns > 0 && t.received > 0 &&
          now - last_recv_change >= idle_ns) {
        reason = "idle";
        break;
      }
    } else if (phase == Phase::Publishing) {
      if (t.pubs_settled >= pubs_) {
        reason = "limit";
        enter(Phase::Finishing, now);
      } else if (duration_ns > 0 && now - pub_start >= duration_ns) {
        reason = "duration";
        enter(Phase::Finishing, now);
      }
    } else if (phase == Phase::Finishing && t.all_finishing) {
      // Every publisher has sent its final message once unsettled is 0. At QoS 1/2 each
      // subscriber it matches gets that message last (per-topic order), so counting finals
      // tells when deliveries are complete; otherwise wait for 500 ms of silence. A broker
      // may drop finals too (a full subscriber queue): then 2 s of silence ends the wait.
      const std::int64_t silence = now - last_recv_change;
      const bool finals_in = t.finals_received >= t.finals_expected;
      const bool delivered = subs_ == 0 || (finals_exact_ ? finals_in || silence >= kDrainSilenceNs
                                                          : silence >= kDrainIdleNs);
      const bool drained = t.unsettled == 0 && delivered;
      if (drained || now - finish_at >= drain_ns) break;
    }

    if (now >= next_progress) {
      HistogramSnapshot lat;
      for (const auto& w : workers_)
        lat.add(w->stats().latency);
      if (!o_.quiet) {
        print_progress(static_cast<double>(now - start) / 1e9, t, last_progress,
                       lat.since(last_latency));
      }
      last_latency = lat;
      last_progress = t;
      next_progress += kNsPerSec;
    }
  }
  control_.phase.store(Phase::Stopping);
  for (auto& w : workers_)
    w->join();
  return summarize(static_cast<double>(mono_ns() - start) / 1e9, reason ? reason : "stopped");
}

void Runner::settle_expected_ends() {
  // pubsub: this process knows every publisher's count, so a subscriber learns the end of
  // each stream it should have received, even one it got nothing of.
  struct Pub {
    const std::string* topic;
    std::uint32_t stream;
    std::uint64_t sent;
  };
  std::vector<Pub> pubs;
  for (auto& w : workers_) {
    for (auto& c : w->clients()) {
      if (c.pub && c.pub->next_seq > 0) {
        pubs.push_back({&c.pub->topic, c.pub->stream, c.pub->next_seq});
      }
    }
  }
  const std::uint64_t work = std::uint64_t{subs_} * pubs.size() * o_.sub_topics.size();
  if (work > kMaxEndMatches) return;
  const auto qos = static_cast<std::uint8_t>(std::min(o_.qos, o_.sub_qos));
  for (auto& w : workers_) {
    for (auto& c : w->clients()) {
      if (!c.sub || !c.sub->tracked || !c.sub->subscribed) continue;
      for (const auto& p : pubs) {
        const bool match =
            std::any_of(c.sub->filters.begin(), c.sub->filters.end(),
                        [&](const std::string& f) { return broker::topic_matches(f, *p.topic); });
        if (!match) continue;
        auto [it, inserted] = c.sub->streams.try_emplace(p.stream);
        if (inserted) it->second.qos = qos;
        it->second.tracker.set_end(p.sent);
      }
    }
  }
}

Summary Runner::summarize(double elapsed, const char* reason) {
  Summary s;
  s.mode = o_.mode;
  s.version = o_.version;
  s.qos = o_.qos;
  s.sub_qos = o_.mode == Mode::PubSub ? o_.sub_qos : (subs_ > 0 ? o_.qos : 0);
  if (pubs_ == 0 && subs_ == 0) s.qos = 0;
  s.size = pubs_ > 0 ? o_.size : 0;
  s.threads = static_cast<std::uint32_t>(workers_.size());
  s.elapsed_s = elapsed;
  s.stop_reason = reason;
  s.publishers = pubs_;
  s.subscribers = subs_;
  s.connections = pubs_ + subs_ + conns_;
  s.expect_no_loss = o_.expect_no_loss;

  const Totals t = totals();
  s.connected = t.connected;
  s.conn_failed = t.conn_failed;
  s.conn_lost = t.conn_lost;
  s.sub_failed = t.sub_failed;
  if (s.connections > t.connected + t.conn_failed) {
    s.not_connected = s.connections - t.connected - t.conn_failed;
  }
  s.sent = t.sent;
  s.acked = t.acked;
  s.pub_errors = t.pub_errors;
  s.unacked = t.inflight;
  s.received = t.received;
  s.foreign = t.foreign;
  s.negative_latency = t.negative;
  s.protocol_errors = t.protocol_errors;
  s.sent_rate = span_rate(t.sent, t.first_sent, t.last_sent, elapsed);
  s.recv_rate = span_rate(t.received, t.first_recv, t.last_recv, elapsed);
  for (const auto& w : workers_) {
    s.latency.add(w->stats().latency);
    s.connect_latency.add(w->stats().connect_latency);
  }

  if (o_.mode == Mode::PubSub) settle_expected_ends();
  s.tracked = subs_ > 0;
  for (auto& w : workers_) {
    for (auto& c : w->clients()) {
      if (!c.sub) continue;
      if (!c.sub->tracked) {
        s.tracked = false;
        continue;
      }
      for (const auto& [id, st] : c.sub->streams) {
        ++s.streams;
        const auto lost = st.tracker.lost();
        const auto dups = st.tracker.duplicates();
        s.lost += lost;
        s.duplicated += dups;
        s.out_of_order += st.tracker.out_of_order();
        if (st.qos == 0) {
          s.lost_qos0 += lost;
          s.duplicated_qos0 += dups;
        }
      }
    }
  }
  return s;
}

}  // namespace emqxd::bench
