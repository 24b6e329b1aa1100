// TraceManager: the trace definitions in the replicated table, which of them run now, their
// files, and the API's operations (trace.hpp).
#include <arpa/inet.h>
#include <sys/stat.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <utility>

#include "broker/topic.hpp"
#include "common/log.hpp"
#include "session/trace.hpp"
#include "tables/replicated_tables.hpp"

namespace emqxd::session {

namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("trace");
  return l;
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::optional<TraceType> type_of(std::string_view name) {
  if (name == "clientid") return TraceType::ClientId;
  if (name == "topic") return TraceType::Topic;
  if (name == "ip_address") return TraceType::IpAddress;
  return std::nullopt;
}

// The trace files this manager writes: trace_<name>_<start_at>.log.
bool is_trace_file(const std::string& f) {
  return f.starts_with("trace_") && f.ends_with(".log");
}

}  // namespace

std::string encode_trace(const TraceSpec& s) {
  json::object o{{"type", trace_type_name(s.type)},
                 {"filter", s.filter},
                 {"enable", s.enable},
                 {"start_at", s.start_at},
                 {"end_at", s.end_at},
                 {"payload_encode", s.payload_encode},
                 {"payload_limit", s.payload_limit},
                 {"formatter", s.formatter}};
  return json::serialize(o);
}

std::optional<TraceSpec> decode_trace(std::string_view name, std::string_view value) {
  json::error_code ec;
  json::value v = json::parse(value, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  TraceSpec s;
  s.name.assign(name);
  auto str = [&](std::string_view k) -> std::optional<std::string> {
    auto* x = o.if_contains(k);
    if (x == nullptr || !x->is_string()) return std::nullopt;
    return std::string(x->get_string());
  };
  auto integer = [&](std::string_view k) -> std::optional<std::int64_t> {
    auto* x = o.if_contains(k);
    if (x == nullptr || !x->is_int64()) return std::nullopt;
    return x->get_int64();
  };
  auto type = str("type");
  auto filter = str("filter");
  auto start = integer("start_at");
  auto end = integer("end_at");
  if (!type || !type_of(*type) || !filter || !start || !end) return std::nullopt;
  s.type = *type_of(*type);
  s.filter = *filter;
  s.start_at = *start;
  s.end_at = *end;
  if (auto* e = o.if_contains("enable"); e != nullptr && e->is_bool()) s.enable = e->get_bool();
  s.payload_encode = str("payload_encode").value_or("text");
  s.formatter = str("formatter").value_or("text");
  auto limit = integer("payload_limit").value_or(1024);
  s.payload_limit = static_cast<std::uint32_t>(std::clamp<std::int64_t>(limit, 0, 1 << 30));
  return s;
}

TraceManager::TraceManager(const config::Config& cfg)
    : node_(cfg.node.name),
      dir_(cfg.node.data_dir + "/trace"),
      max_file_size_(cfg.trace.max_file_size),
      default_payload_encode_(cfg.trace.payload_encode) {}

TraceManager::~TraceManager() {
  stop();
}

void TraceManager::attach(tables::ReplicatedTables& t) {
  tables_ = &t;
  t.declare(std::string(kTable), kMaxTraces * 4);  // room for tombstones of deleted ones
  t.listen(std::string(kTable), [this](const tables::Entry& e) { on_entry(e); });
}

// On the table writer's thread, under the tables' mutex: only our own state, then a wake.
void TraceManager::on_entry(const tables::Entry& e) {
  {
    std::lock_guard lock(mutex_);
    if (e.deleted) {
      specs_.erase(e.key);
      deleted_ = true;
    } else if (auto s = decode_trace(e.key, e.value)) {
      specs_[e.key] = std::move(*s);
    }
  }
  std::lock_guard lock(wake_mutex_);
  dirty_ = true;
  wake_.notify_one();
}

void TraceManager::start() {
  std::error_code ec;
  fs::create_directories(dir_, ec);  // under the process umask: 0700
  {
    std::lock_guard lock(mutex_);
    deleted_ = true;  // files of traces deleted while this node was down go too
  }
  refresh();
  thread_ = std::thread([this] { run(); });
}

// Removes the files of traces nobody defines any more (deleted here, by a peer, or while
// this node was down).
void TraceManager::remove_stale_files() {
  std::vector<std::string> keep;
  {
    std::lock_guard lock(mutex_);
    for (const auto& [name, s] : specs_)
      keep.push_back(fs::path(path_for(s)).filename().string());
  }
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir_, ec)) {
    const std::string name = f.path().filename().string();
    if (is_trace_file(name) && std::find(keep.begin(), keep.end(), name) == keep.end()) {
      std::error_code rm;
      fs::remove(f.path(), rm);
    }
  }
}

void TraceManager::stop() {
  {
    std::lock_guard lock(wake_mutex_);
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
}

// Starts and ends traces on time: wakes at the next start_at or end_at (at most a second
// away), or when the table changes.
void TraceManager::run() {
  std::unique_lock lock(wake_mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || dirty_; });
    if (stopping_) break;
    dirty_ = false;
    lock.unlock();
    refresh();
    lock.lock();
  }
}

std::string TraceManager::path_for(const TraceSpec& s) const {
  return dir_ + "/trace_" + s.name + "_" + std::to_string(s.start_at) + ".log";
}

void TraceManager::refresh() {
  std::lock_guard one(refresh_mutex_);
  const std::int64_t now = now_s();
  std::vector<TraceSpec> running;
  bool changed = false;
  bool deleted = false;
  {
    std::lock_guard lock(mutex_);
    deleted = std::exchange(deleted_, false);
    for (const auto& [name, s] : specs_) {
      if (trace_status(s, now) == "running") running.push_back(s);
    }
    // Which running files end: stopped, finished, deleted or redefined.
    for (auto it = running_.begin(); it != running_.end();) {
      auto spec = specs_.find(it->first);
      const bool keep = spec != specs_.end() && trace_status(spec->second, now) == "running" &&
                        spec->second.start_at == it->second->spec().start_at &&
                        spec->second.filter == it->second->spec().filter;
      if (keep) {
        ++it;
        continue;
      }
      logger()->info("trace {} stopped", it->first);
      it = running_.erase(it);
      changed = true;
    }
  }
  std::vector<std::shared_ptr<TraceFile>> opened;
  for (const auto& s : running) {
    {
      std::lock_guard lock(mutex_);
      if (running_.count(s.name) != 0) continue;
    }
    std::error_code ec;
    fs::create_directories(dir_, ec);
    auto f = std::make_shared<TraceFile>(s, path_for(s), max_file_size_);
    if (!f->ok()) {
      logger()->error("trace {}: cannot open {}", s.name, f->path());
      continue;
    }
    logger()->info("trace {} started: {} {} until {}", s.name, trace_type_name(s.type), s.filter,
                   s.end_at);
    opened.push_back(std::move(f));
  }
  if (deleted) remove_stale_files();
  if (opened.empty() && !changed) return;
  auto set = std::make_shared<TraceSet>();
  {
    std::lock_guard lock(mutex_);
    for (auto& f : opened)
      running_[f->spec().name] = f;
    for (const auto& [name, f] : running_) {
      (f->spec().type == TraceType::Topic ? set->by_topic : set->by_client).push_back(f);
    }
  }
  tracer_.publish(std::move(set));
}

TraceManager::Outcome TraceManager::create(const TraceSpec& in) {
  TraceSpec s = in;
  if (s.payload_encode.empty()) s.payload_encode = default_payload_encode_;
  const std::int64_t now = now_s();
  if (s.end_at <= now) return {400, "INVALID_PARAMS", "end_at time has already passed"};
  switch (s.type) {
    case TraceType::ClientId:
      if (s.filter.empty() || s.filter.size() > 65535)
        return {400, "INVALID_PARAMS", "clientid must be a non-empty string"};
      break;
    case TraceType::Topic:
      if (!broker::validate_topic_filter(s.filter))
        return {400, "INVALID_PARAMS", "topic: not a valid topic filter: " + s.filter};
      break;
    case TraceType::IpAddress: {
      unsigned char buf[16];
      if (::inet_pton(AF_INET, s.filter.c_str(), buf) != 1 &&
          ::inet_pton(AF_INET6, s.filter.c_str(), buf) != 1) {
        return {400, "INVALID_PARAMS", "ip_address: not an IP address: " + s.filter};
      }
      break;
    }
  }
  {
    std::lock_guard lock(mutex_);
    if (specs_.count(s.name) != 0) return {409, "ALREADY_EXISTS", s.name + " Already Exists"};
    for (const auto& [name, other] : specs_) {
      if (other.type == s.type && other.filter == s.filter &&
          trace_status(other, now) != "stopped") {
        return {409, "DUPLICATE_CONDITION", name + " Duplication Condition"};
      }
    }
    if (specs_.size() >= kMaxTraces) {
      return {400, "EXCEED_LIMIT",
              "Number of existing traces has reached the allowed maximum, please delete "
              "outdated traces first"};
    }
  }
  if (tables_ == nullptr || !tables_->put(std::string(kTable), s.name, encode_trace(s))) {
    return {400, "EXCEED_LIMIT", "the trace table is full"};
  }
  refresh();  // running before the answer, so that the next packet is traced
  return {200, "", ""};
}

bool TraceManager::stop_trace(const std::string& name) {
  std::optional<TraceSpec> s = get(name);
  if (!s) return false;
  if (s->enable) {
    s->enable = false;
    if (tables_ != nullptr) tables_->put(std::string(kTable), name, encode_trace(*s));
    refresh();
  }
  return true;
}

bool TraceManager::remove(const std::string& name) {
  if (!get(name) || tables_ == nullptr) return false;
  tables_->erase(std::string(kTable), name);
  refresh();
  return true;
}

void TraceManager::clear() {
  for (const auto& s : list()) {
    if (tables_ != nullptr) tables_->erase(std::string(kTable), s.name);
  }
  refresh();
}

std::vector<TraceSpec> TraceManager::list() const {
  std::lock_guard lock(mutex_);
  std::vector<TraceSpec> out;
  for (const auto& [name, s] : specs_)
    out.push_back(s);
  return out;
}

std::optional<TraceSpec> TraceManager::get(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = specs_.find(name);
  if (it == specs_.end()) return std::nullopt;
  return it->second;
}

std::string TraceManager::file_of(const std::string& name) const {
  auto s = get(name);
  return s ? path_for(*s) : std::string();
}

TraceManager::Read TraceManager::read_trace_log(const std::string& name, std::uint64_t position,
                                                std::uint64_t max_bytes) const {
  Read r;
  const std::string path = file_of(name);
  if (path.empty()) return r;
  r.found = true;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return r;  // waiting: no file yet
  r.size = static_cast<std::uint64_t>(st.st_size);
  r.mtime = st.st_mtime;
  if (position >= r.size || max_bytes == 0) return r;
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(position));
  r.bytes.resize(static_cast<std::size_t>(std::min(max_bytes, r.size - position)));
  in.read(r.bytes.data(), static_cast<std::streamsize>(r.bytes.size()));
  r.bytes.resize(static_cast<std::size_t>(in.gcount()));
  return r;
}

}  // namespace emqxd::session
