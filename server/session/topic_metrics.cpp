#include "session/topic_metrics.hpp"

#include <algorithm>
#include <charconv>

#include "mqtt/message.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::session {

namespace {

// Tombstones count against a replicated table's bound: room for them beside the live ones.
constexpr std::size_t kTableBound = TopicMetrics::kMaxTopics * 8;
// EMQX's short moving average: 5 one-second samples.
constexpr double kWindow = 5;

std::optional<std::int64_t> parse_ms(const std::string& s) {
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string_view TopicMetrics::name(Metric m) {
  static constexpr std::string_view kNames[kMetrics] = {
      "messages.in",       "messages.out",      "messages.qos0.in",
      "messages.qos0.out", "messages.qos1.in",  "messages.qos1.out",
      "messages.qos2.in",  "messages.qos2.out", "messages.dropped"};
  return kNames[m];
}

bool TopicMetrics::valid_topic(std::string_view topic) {
  return !topic.empty() && topic.size() <= 65535 &&
         topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

TopicMetrics::TopicMetrics() : snapshot_(std::make_shared<const Map>()) {}

void TopicMetrics::View::refresh(std::uint64_t g) {
  std::lock_guard lock(tm_->mutex_);
  snapshot_ = tm_->snapshot_;
  generation_ = g;
}

void TopicMetrics::attach(tables::ReplicatedTables& t) {
  tables_ = &t;
  t.declare(std::string(kTable), kTableBound);
  t.listen(std::string(kTable), [this](const tables::Entry& e) { apply(e); });
}

void TopicMetrics::apply(const tables::Entry& e) {
  std::lock_guard lock(mutex_);
  set(e.key, e.deleted ? std::nullopt : std::optional(parse_ms(e.value).value_or(0)));
}

void TopicMetrics::set(const std::string& topic, std::optional<std::int64_t> create_ms) {
  auto it = entries_.find(topic);
  if (!create_ms) {
    if (it == entries_.end()) return;
    entries_.erase(it);
  } else if (it == entries_.end()) {
    auto e = std::make_shared<Entry>();
    e->create_ms = *create_ms;
    entries_.emplace(topic, std::move(e));
  } else {
    return;  // registered already: its counts go on
  }
  publish_snapshot();
}

void TopicMetrics::publish_snapshot() {
  snapshot_ = std::make_shared<const Map>(entries_);
  count_.store(entries_.size(), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
}

TopicMetrics::Outcome TopicMetrics::add(const std::string& topic) {
  if (!valid_topic(topic)) return Outcome::BadTopic;
  {
    std::lock_guard lock(mutex_);
    if (entries_.contains(topic)) return Outcome::Exists;
    if (entries_.size() >= kMaxTopics) return Outcome::Full;
    if (tables_ == nullptr) {
      set(topic, mqtt::wall_ms_now());
      return Outcome::Ok;
    }
  }
  // Outside the mutex: the table's listener (apply) takes it.
  if (!tables_->put(std::string(kTable), topic, std::to_string(mqtt::wall_ms_now()))) {
    return Outcome::Full;
  }
  return Outcome::Ok;
}

void TopicMetrics::seed(const std::vector<std::string>& topics) {
  for (const auto& t : topics)
    add(t);
}

TopicMetrics::Outcome TopicMetrics::remove(const std::string& topic) {
  {
    std::lock_guard lock(mutex_);
    if (!entries_.contains(topic)) return Outcome::NotFound;
    if (tables_ == nullptr) {
      set(topic, std::nullopt);
      return Outcome::Ok;
    }
  }
  return tables_->erase(std::string(kTable), topic) ? Outcome::Ok : Outcome::NotFound;
}

TopicMetrics::Outcome TopicMetrics::reset(const std::optional<std::string>& topic,
                                          std::int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto zero = [&](Entry& e) {
    for (std::size_t i = 0; i < kMetrics; ++i) {
      e.counters.n[i].store(0, std::memory_order_relaxed);
      e.last[i] = 0;
      e.rate[i] = 0;
    }
    e.reset_ms = now_ms;
  };
  if (!topic) {
    for (auto& [t, e] : entries_)
      zero(*e);
    return Outcome::Ok;
  }
  auto it = entries_.find(*topic);
  if (it == entries_.end()) return Outcome::NotFound;
  zero(*it->second);
  return Outcome::Ok;
}

void TopicMetrics::tick() {
  std::lock_guard lock(mutex_);
  for (auto& [t, e] : entries_) {
    for (std::size_t i = 0; i < kMetrics; ++i) {
      const auto v = e->counters.n[i].load(std::memory_order_relaxed);
      const double speed = v >= e->last[i] ? static_cast<double>(v - e->last[i]) : 0.0;
      e->rate[i] = (e->rate[i] * (kWindow - 1) + speed) / kWindow;
      e->last[i] = v;
    }
  }
}

std::vector<TopicMetrics::Sample> TopicMetrics::samples(
    const std::optional<std::string>& topic) const {
  std::vector<Sample> out;
  std::lock_guard lock(mutex_);
  auto add = [&](const std::string& t, const Entry& e) {
    Sample s;
    s.topic = t;
    s.create_ms = e.create_ms;
    s.reset_ms = e.reset_ms;
    for (std::size_t i = 0; i < kMetrics; ++i) {
      s.count[i] = e.counters.n[i].load(std::memory_order_relaxed);
      s.rate[i] = e.rate[i];
    }
    out.push_back(std::move(s));
  };
  if (topic) {
    if (auto it = entries_.find(*topic); it != entries_.end()) add(it->first, *it->second);
    return out;
  }
  for (const auto& [t, e] : entries_)
    add(t, *e);
  std::sort(out.begin(), out.end(),
            [](const Sample& a, const Sample& b) { return a.topic < b.topic; });
  return out;
}

}  // namespace emqxd::session
