#include "session/banned.hpp"

#include <algorithm>
#include <boost/json.hpp>

namespace emqxd::session {

namespace json = boost::json;

namespace {
constexpr std::string_view kNames[] = {"clientid",    "username",    "peerhost",
                                       "clientid_re", "username_re", "peerhost_net"};

bool in_force(const std::optional<std::int64_t>& until, std::int64_t now_s) {
  return !until || *until > now_s;
}
}  // namespace

std::optional<Banned::As> Banned::as_of(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kNames); ++i) {
    if (kNames[i] == name) return static_cast<As>(i);
  }
  return std::nullopt;
}

std::string_view Banned::name(As as) {
  return kNames[static_cast<std::size_t>(as)];
}

std::string Banned::key_of(As as, std::string_view who) {
  std::string k(name(as));
  k += '/';
  k += who;
  return k;
}

std::string Banned::encode(const Entry& e) {
  json::object o{{"by", e.by}, {"reason", e.reason}, {"at", e.at}};
  if (e.until) {
    o["until"] = *e.until;
  } else {
    o["until"] = nullptr;
  }
  return json::serialize(o);
}

std::optional<Banned::Entry> Banned::decode(std::string_view key, std::string_view value) {
  auto slash = key.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto as = as_of(key.substr(0, slash));
  if (!as) return std::nullopt;
  json::error_code ec;
  json::value v = json::parse(value, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  Entry e;
  e.as = *as;
  e.who.assign(key.substr(slash + 1));
  if (auto* b = o.if_contains("by"); b != nullptr && b->is_string()) e.by = b->get_string();
  if (auto* r = o.if_contains("reason"); r != nullptr && r->is_string()) e.reason = r->get_string();
  if (auto* a = o.if_contains("at"); a != nullptr && a->is_int64()) e.at = a->get_int64();
  if (auto* u = o.if_contains("until"); u != nullptr && u->is_int64()) e.until = u->get_int64();
  return e;
}

void Banned::attach(tables::ReplicatedTables& t) {
  tables_ = &t;
  t.declare(std::string(kTable), kMaxEntries);
  t.listen(std::string(kTable), [this](const tables::Entry& e) { apply(e); });
}

void Banned::apply(const tables::Entry& te) {
  bool added = false;
  {
    std::unique_lock lock(mutex_);
    auto old = entries_.find(te.key);
    if (old != entries_.end()) {
      unindex(old->second.as, old->second.who, te.key);
      entries_.erase(old);
    }
    if (!te.deleted) {
      if (auto e = decode(te.key, te.value)) {
        index(*e);
        entries_.emplace(te.key, std::move(*e));
        added = true;
      }
    }
    count_.store(entries_.size(), std::memory_order_relaxed);
  }
  if (added && on_ban_) on_ban_();
}

void Banned::index(const Entry& e) {
  const auto i = static_cast<std::size_t>(e.as);
  if (i < 3) {
    exact_[i][e.who] = e.until;
    return;
  }
  Pattern p;
  p.key = key_of(e.as, e.who);
  p.as = e.as;
  p.until = e.until;
  if (e.as == As::PeerHostNet) {
    p.net = auth::Cidr::parse(e.who);
    if (!p.net) return;  // checked on create: a peer's bad entry matches nobody
  } else {
    std::string error;
    p.re = auth::Regex::compile(e.who, error);
    if (!p.re) return;
  }
  patterns_.push_back(std::move(p));
}

void Banned::unindex(As as, const std::string& who, const std::string& key) {
  const auto i = static_cast<std::size_t>(as);
  if (i < 3) {
    exact_[i].erase(who);
    return;
  }
  std::erase_if(patterns_, [&](const Pattern& p) { return p.key == key; });
}

bool Banned::write(const Entry& e) {
  const std::string key = key_of(e.as, e.who);
  if (tables_ != nullptr) return tables_->put(std::string(kTable), key, encode(e));
  tables::Entry te;
  te.table = std::string(kTable);
  te.key = key;
  te.value = encode(e);
  {
    std::shared_lock lock(mutex_);
    if (entries_.size() >= kMaxEntries && entries_.find(key) == entries_.end()) return false;
  }
  apply(te);
  return true;
}

Banned::Outcome Banned::create(const Entry& e, std::string& error) {
  if (e.as == As::PeerHostNet && !auth::Cidr::parse(e.who)) {
    error = "not an address or CIDR: " + e.who;
    return Outcome::BadWho;
  }
  if (e.as == As::PeerHost && !auth::IpAddress::parse(e.who)) {
    error = "not an IP address: " + e.who;
    return Outcome::BadWho;
  }
  if (e.as == As::ClientIdRe || e.as == As::UsernameRe) {
    if (!auth::Regex::compile(e.who, error)) return Outcome::BadWho;
  }
  {
    std::shared_lock lock(mutex_);
    auto it = entries_.find(key_of(e.as, e.who));
    if (it != entries_.end()) return Outcome::Exists;
  }
  return write(e) ? Outcome::Ok : Outcome::Full;
}

void Banned::ban(As as, const std::string& who, std::int64_t until_s, std::string by,
                 std::string reason) {
  Entry e;
  e.as = as;
  e.who = who;
  e.by = std::move(by);
  e.reason = std::move(reason);
  e.at = std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count();
  e.until = until_s;
  write(e);
}

Banned::Outcome Banned::remove(As as, const std::string& who) {
  const std::string key = key_of(as, who);
  if (tables_ != nullptr) {
    return tables_->erase(std::string(kTable), key) ? Outcome::Ok : Outcome::NotFound;
  }
  {
    std::shared_lock lock(mutex_);
    if (entries_.find(key) == entries_.end()) return Outcome::NotFound;
  }
  tables::Entry te;
  te.key = key;
  te.deleted = true;
  apply(te);
  return Outcome::Ok;
}

void Banned::clear() {
  for (const auto& e : list())
    remove(e.as, e.who);
}

std::vector<Banned::Entry> Banned::list() const {
  std::vector<std::pair<std::string, Entry>> all;
  {
    std::shared_lock lock(mutex_);
    all.assign(entries_.begin(), entries_.end());
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Entry> out;
  out.reserve(all.size());
  for (auto& kv : all)
    out.push_back(std::move(kv.second));
  return out;
}

std::size_t Banned::sweep(std::int64_t now_s) {
  std::size_t n = 0;
  for (const auto& e : list()) {
    if (!in_force(e.until, now_s) && remove(e.as, e.who) == Outcome::Ok) ++n;
  }
  return n;
}

bool Banned::banned(std::string_view client_id, const std::optional<std::string>& username,
                    std::string_view peerhost, std::int64_t now_s) const {
  if (count_.load(std::memory_order_relaxed) == 0) return false;
  std::shared_lock lock(mutex_);
  auto exact = [&](As as, std::string_view v) {
    const auto& m = exact_[static_cast<std::size_t>(as)];
    auto it = m.find(std::string(v));
    return it != m.end() && in_force(it->second, now_s);
  };
  if (exact(As::ClientId, client_id) || (username && exact(As::Username, *username)) ||
      exact(As::PeerHost, peerhost)) {
    return true;
  }
  if (patterns_.empty()) return false;
  auto peer = auth::IpAddress::parse(peerhost);
  for (const auto& p : patterns_) {
    if (!in_force(p.until, now_s)) continue;
    switch (p.as) {
      case As::ClientIdRe:
        if (p.re->search(client_id)) return true;
        break;
      case As::UsernameRe:
        if (username && p.re->search(*username)) return true;
        break;
      case As::PeerHostNet:
        if (peer && p.net->contains(*peer)) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

std::size_t Banned::size() const {
  return count_.load(std::memory_order_relaxed);
}

bool Flapping::ended(const std::string& client_id, std::int64_t now_ms) {
  if (!cfg_.enable) return false;
  const std::int64_t window = cfg_.window_time.count();
  std::lock_guard lock(mutex_);
  if (windows_.size() >= kMaxEntries && windows_.find(client_id) == windows_.end()) {
    std::erase_if(windows_, [&](const auto& kv) { return now_ms - kv.second.started_ms > window; });
    if (windows_.size() >= kMaxEntries) return false;  // every slot is busy: not counted
  }
  Window& w = windows_[client_id];
  if (w.count == 0 || now_ms - w.started_ms > window) {
    w.started_ms = now_ms;
    w.count = 0;
  }
  if (++w.count < cfg_.max_count) return false;  // the max_count-th end bans, as EMQX
  windows_.erase(client_id);                     // banned: counting starts over after the ban
  return true;
}

}  // namespace emqxd::session
