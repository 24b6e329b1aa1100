#include "cluster/sim_cluster.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>

namespace emqxd::cluster::test {
namespace {

// EMQXD_SIM_TRACE=1 prints every delivery and event: the way to read a failing scenario.
bool tracing() {
  static const bool on = std::getenv("EMQXD_SIM_TRACE") != nullptr;
  return on;
}

std::string describe(const Message& m) {
  std::string s(body_name(m.body));
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, Ping> || std::is_same_v<T, Ack>) {
          s += " " + std::to_string(b.seq);
        } else if constexpr (std::is_same_v<T, PingReq>) {
          s += " " + std::to_string(b.seq) + " " + b.target.name;
        } else if constexpr (std::is_same_v<T, JoinAck> || std::is_same_v<T, Sync> ||
                             std::is_same_v<T, SyncAck>) {
          s += " [";
          for (const auto& u : b.members) {
            s += " " + u.node.name + ":" + std::string(to_string(u.state)) + "/" +
                 std::to_string(u.incarnation);
          }
          s += " ]";
        }
      },
      m.body);
  if (!m.updates.empty()) {
    s += " +{";
    for (const auto& u : m.updates) {
      s += " " + u.node.name + ":" + std::string(to_string(u.state)) + "/" +
           std::to_string(u.incarnation);
    }
    s += " }";
  }
  return s;
}

}  // namespace

SimCluster::SimCluster(std::size_t nodes, std::uint64_t seed, MembershipOptions options)
    : options_(std::move(options)), rng_(seed), nodes_(nodes + 1) {}

NodeAddress SimCluster::address(std::size_t i) const {
  return NodeAddress{"n" + std::to_string(i), "127.0.0.1", static_cast<std::uint16_t>(4370 + i)};
}

void SimCluster::start(std::size_t i, const std::vector<std::size_t>& seeds,
                       std::optional<std::uint64_t> incarnation) {
  Node& n = nodes_.at(i);
  REQUIRE_FALSE(n.running);
  std::uint64_t inc = incarnation.value_or(1000 + static_cast<std::uint64_t>(now().count()));
  n.membership = std::make_unique<Membership>(address(i), inc, options_, rng_(), now_);
  n.running = true;
  n.stop_at = TimePoint::max();
  std::vector<NodeAddress> seed_addresses;
  for (std::size_t s : seeds)
    seed_addresses.push_back(address(s));
  n.membership->join(seed_addresses, now_);
  collect(i);
}

void SimCluster::kill(std::size_t i) {
  nodes_.at(i).running = false;
}

void SimCluster::leave(std::size_t i, Duration linger) {
  Node& n = nodes_.at(i);
  n.membership->leave(now_);
  collect(i);
  n.stop_at = now_ + linger;
}

const Link& SimCluster::link(std::size_t from, std::size_t to) const {
  auto it = links_.find({from, to});
  return it == links_.end() ? default_link_ : it->second;
}

void SimCluster::set_link(std::size_t from, std::size_t to, Link l) {
  links_[{from, to}] = l;
}

void SimCluster::set_all_links(Link l) {
  links_.clear();
  default_link_ = l;
}

void SimCluster::partition(const std::vector<std::vector<std::size_t>>& groups) {
  for (std::size_t g = 0; g < groups.size(); ++g) {
    for (std::size_t h = 0; h < groups.size(); ++h) {
      if (g == h) continue;
      for (std::size_t a : groups[g]) {
        for (std::size_t b : groups[h]) {
          Link l = link(a, b);
          l.cut = true;
          links_[{a, b}] = l;
        }
      }
    }
  }
}

void SimCluster::heal() {
  links_.clear();
  default_link_ = Link{};
}

std::optional<std::size_t> SimCluster::index_of(const NodeAddress& a) const {
  for (std::size_t i = 1; i < nodes_.size(); ++i) {
    if (address(i).endpoint() == a.endpoint()) return i;
  }
  return std::nullopt;
}

// Takes node i's output: its messages onto the network, its events into the record.
void SimCluster::collect(std::size_t i) {
  Membership& m = *nodes_[i].membership;
  for (Outgoing& o : m.take_outgoing()) {
    auto to = index_of(o.to);
    const Link& l = to ? link(i, *to) : default_link_;
    std::uniform_real_distribution<double> coin(0.0, 1.0);
    if (!to || l.cut || (l.loss > 0 && coin(rng_) < l.loss)) {
      ++lost_;
      if (tracing()) {
        std::printf("%8lld n%zu -> %s LOST %s\n", static_cast<long long>(now().count()), i,
                    o.to.name.c_str(), describe(o.message).c_str());
      }
      continue;
    }
    auto spread = static_cast<std::uint64_t>((l.max_delay - l.min_delay).count());
    Duration delay = l.min_delay + Duration(static_cast<Duration::rep>(rng_() % (spread + 1)));
    queue_.push(InFlight{now_ + delay, order_++, i, *to, std::move(o.message)});
  }
  for (MemberEvent& e : m.take_events()) {
    if (tracing()) {
      std::printf("%8lld n%zu EVENT %s %s/%llu\n", static_cast<long long>(now().count()), i,
                  std::string(to_string(e.kind)).c_str(), e.node.name.c_str(),
                  static_cast<unsigned long long>(e.incarnation));
    }
    events_.push_back(Observed{now(), i, std::move(e)});
    if (on_event) on_event(events_.back());
  }
}

TimePoint SimCluster::next_time() const {
  TimePoint t = queue_.empty() ? TimePoint::max() : queue_.top().at;
  for (std::size_t i = 1; i < nodes_.size(); ++i) {
    const Node& n = nodes_[i];
    if (!n.running) continue;
    t = std::min({t, n.membership->next_deadline(), n.stop_at});
  }
  return t;
}

void SimCluster::run_instant() {
  while (!queue_.empty() && queue_.top().at <= now_) {
    InFlight f = queue_.top();
    queue_.pop();
    Node& n = nodes_[f.to];
    if (!n.running || link(f.from, f.to).cut) {  // crashed, or cut while in flight
      ++lost_;
      if (tracing()) {
        std::printf("%8lld n%zu -> n%zu LOST IN FLIGHT %s\n", static_cast<long long>(now().count()),
                    f.from, f.to, describe(f.message).c_str());
      }
      continue;
    }
    ++delivered_;
    if (tracing()) {
      std::printf("%8lld n%zu -> n%zu %s\n", static_cast<long long>(now().count()), f.from, f.to,
                  describe(f.message).c_str());
    }
    n.membership->handle(f.message, now_);
    collect(f.to);
  }
  for (std::size_t i = 1; i < nodes_.size(); ++i) {
    Node& n = nodes_[i];
    if (!n.running) continue;
    if (n.stop_at <= now_) {
      n.running = false;
      continue;
    }
    if (n.membership->next_deadline() <= now_) {
      n.membership->tick(now_);
      collect(i);
      // tick() runs everything that is due: a deadline left in the past would spin.
      REQUIRE(n.membership->next_deadline() > now_);
    }
  }
}

void SimCluster::run_for(Duration d) {
  run_until([] { return false; }, d);
}

bool SimCluster::run_until(const std::function<bool()>& done, Duration limit) {
  const TimePoint end = now_ + limit;
  while (!done()) {
    TimePoint t = next_time();
    if (t > end) {
      now_ = end;
      return done();
    }
    now_ = std::max(now_, t);
    run_instant();
  }
  return true;
}

std::optional<MemberState> SimCluster::view(std::size_t observer, std::size_t i) const {
  const Member* m = node(observer).find(id(i));
  if (m == nullptr) return std::nullopt;
  return m->state;
}

bool SimCluster::converged() const {
  for (std::size_t i = 1; i < nodes_.size(); ++i) {
    if (!nodes_[i].running) continue;
    for (std::size_t j = 1; j < nodes_.size(); ++j) {
      if (j == i || !nodes_[j].running) continue;
      const Member* m = node(i).find(id(j));
      if (m == nullptr || m->state != MemberState::Alive ||
          m->incarnation != node(j).incarnation() || !(m->address == address(j))) {
        return false;
      }
    }
  }
  return true;
}

bool SimCluster::all_see(std::size_t i, MemberState s) const {
  for (std::size_t o = 1; o < nodes_.size(); ++o) {
    if (o == i || !nodes_[o].running) continue;
    if (view(o, i) != s) return false;
  }
  return true;
}

std::vector<Observed> SimCluster::events(std::size_t observer, std::size_t about) const {
  std::vector<Observed> out;
  for (const Observed& o : events_) {
    if (o.observer == observer && o.event.node.id() == id(about)) out.push_back(o);
  }
  return out;
}

std::size_t SimCluster::count(MemberEvent::Kind kind, std::size_t about) const {
  std::size_t n = 0;
  for (const Observed& o : events_)
    n += o.event.kind == kind && o.event.node.id() == id(about);
  return n;
}

std::size_t SimCluster::count(MemberEvent::Kind kind) const {
  std::size_t n = 0;
  for (const Observed& o : events_)
    n += o.event.kind == kind;
  return n;
}

}  // namespace emqxd::cluster::test
