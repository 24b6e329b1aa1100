#include "session/slow_subs.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <tuple>

#include "tables/replicated_tables.hpp"

namespace emqxd::session {

namespace json = boost::json;

namespace {

std::string ms_text(config::Duration d) {
  const auto ms = d.count();
  return ms % 1000 == 0 ? std::to_string(ms / 1000) + "s" : std::to_string(ms) + "ms";
}

std::string_view stats_type_name(SlowSubs::Settings::StatsType t) {
  using T = SlowSubs::Settings::StatsType;
  return t == T::Whole ? "whole" : (t == T::Internal ? "internal" : "response");
}

}  // namespace

SlowSubs::SlowSubs(const Settings& s) {
  apply(s);
}

void SlowSubs::apply(const Settings& s) {
  {
    std::lock_guard lock(settings_mutex_);
    settings_ = s;
  }
  threshold_ms_.store(s.threshold.count(), std::memory_order_relaxed);
  expire_ms_.store(s.expire_interval.count(), std::memory_order_relaxed);
  top_k_.store(std::clamp<std::uint32_t>(s.top_k_num, 1, kMaxSize), std::memory_order_relaxed);
  stats_type_.store(s.stats_type, std::memory_order_relaxed);
  enable_.store(s.enable, std::memory_order_relaxed);
  if (!s.enable) clear();  // EMQX forgets them when it is switched off
}

SlowSubs::Settings SlowSubs::settings() const {
  std::lock_guard lock(settings_mutex_);
  return settings_;
}

void SlowSubs::completed(std::uint32_t worker, std::string_view client_id, std::string_view topic,
                         std::chrono::milliseconds internal, std::chrono::milliseconds response,
                         std::int64_t now_ms) {
  std::int64_t span = 0;
  switch (stats_type_.load(std::memory_order_relaxed)) {
    case Settings::StatsType::Whole:
      span = internal.count() + response.count();
      break;
    case Settings::StatsType::Internal:
      span = internal.count();
      break;
    case Settings::StatsType::Response:
      span = response.count();
      break;
  }
  if (span <= threshold_ms_.load(std::memory_order_relaxed)) return;
  const std::size_t top_k = top_k_.load(std::memory_order_relaxed);
  auto& shard = shards_[worker % kShards];
  std::lock_guard lock(shard.mutex);
  auto& recs = shard.records;
  for (auto& r : recs) {
    if (r.clientid == client_id && r.topic == topic) {
      // As EMQX: a record keeps its largest latency; a smaller one changes nothing.
      if (span > r.timespan) {
        r.timespan = span;
        r.last_update_ms = now_ms;
      }
      return;
    }
  }
  expire(recs, now_ms, expire_ms_.load(std::memory_order_relaxed));
  if (recs.size() < top_k) {
    recs.push_back(Record{std::string(client_id), std::string(topic), span, now_ms});
    return;
  }
  // Full: it takes the smallest one's place, or nothing is made (under a steady overload
  // most slow deliveries are of subscriptions that do not make the top k).
  auto smallest = std::min_element(recs.begin(), recs.end(), [](const Record& a, const Record& b) {
    return a.timespan < b.timespan;
  });
  if (smallest == recs.end() || span <= smallest->timespan) return;
  smallest->clientid.assign(client_id);
  smallest->topic.assign(topic);
  smallest->timespan = span;
  smallest->last_update_ms = now_ms;
}

void SlowSubs::expire(std::vector<Record>& records, std::int64_t now_ms, std::int64_t life_ms) {
  std::erase_if(records, [&](const Record& r) { return now_ms - r.last_update_ms >= life_ms; });
}

std::vector<SlowSubs::Record> SlowSubs::list(std::int64_t now_ms) {
  const auto life = expire_ms_.load(std::memory_order_relaxed);
  std::vector<Record> out;
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    expire(shard.records, now_ms, life);
    out.insert(out.end(), shard.records.begin(), shard.records.end());
  }
  std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
    return a.timespan != b.timespan ? a.timespan > b.timespan
                                    : std::tie(a.clientid, a.topic) < std::tie(b.clientid, b.topic);
  });
  const std::size_t top_k = top_k_.load(std::memory_order_relaxed);
  if (out.size() > top_k) out.resize(top_k);
  return out;
}

void SlowSubs::clear() {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    shard.records.clear();
  }
}

void SlowSubs::attach(tables::ReplicatedTables& t) {
  tables_ = &t;
  t.declare(std::string(kTable), 64);
  t.listen(std::string(kTable), [this](const tables::Entry& e) {
    if (e.key != kKey) return;
    std::string error;
    if (e.deleted) return;
    if (auto s = from_json(e.value, settings(), error)) apply(*s);
  });
}

bool SlowSubs::put(const Settings& s) {
  if (tables_ == nullptr) {
    apply(s);
    return true;
  }
  return tables_->put(std::string(kTable), std::string(kKey), to_json(s));
}

std::string SlowSubs::to_json(const Settings& s) {
  return json::serialize(json::object{{"enable", s.enable},
                                      {"threshold", ms_text(s.threshold)},
                                      {"expire_interval", ms_text(s.expire_interval)},
                                      {"top_k_num", s.top_k_num},
                                      {"stats_type", stats_type_name(s.stats_type)}});
}

std::optional<SlowSubs::Settings> SlowSubs::from_json(std::string_view text, const Settings& base,
                                                      std::string& error) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  Settings s = base;
  auto duration = [&](const json::value& x, const char* key, config::Duration lo,
                      config::Duration& out) {
    std::optional<config::Duration> d;
    if (x.is_string()) d = config::parse_duration(std::string_view(x.as_string()));
    if (!d || *d < lo || *d > config::Duration(365LL * 24 * 3600 * 1000)) {
      error = std::string(key) + ": a duration of at least " + ms_text(lo) + " (\"500ms\", \"5m\")";
      return false;
    }
    out = *d;
    return true;
  };
  for (const auto& kv : v.as_object()) {
    const std::string_view key = kv.key();
    const json::value& x = kv.value();
    if (key == "enable") {
      if (!x.is_bool()) {
        error = "enable: true or false";
        return std::nullopt;
      }
      s.enable = x.as_bool();
    } else if (key == "threshold") {
      if (!duration(x, "threshold", config::Duration(100), s.threshold)) return std::nullopt;
    } else if (key == "expire_interval") {
      if (!duration(x, "expire_interval", config::Duration(1), s.expire_interval)) {
        return std::nullopt;
      }
    } else if (key == "top_k_num") {
      if (!x.is_int64() || x.as_int64() < 1 || x.as_int64() > static_cast<std::int64_t>(kMaxSize)) {
        error = "top_k_num: an integer from 1 to 1000";
        return std::nullopt;
      }
      s.top_k_num = static_cast<std::uint32_t>(x.as_int64());
    } else if (key == "stats_type") {
      const std::string_view t = x.is_string() ? std::string_view(x.as_string()) : "";
      using T = Settings::StatsType;
      if (t == "whole") {
        s.stats_type = T::Whole;
      } else if (t == "internal") {
        s.stats_type = T::Internal;
      } else if (t == "response") {
        s.stats_type = T::Response;
      } else {
        error = "stats_type: whole, internal or response";
        return std::nullopt;
      }
    } else {
      error = "unknown field: " + std::string(key);
      return std::nullopt;
    }
  }
  return s;
}

}  // namespace emqxd::session
