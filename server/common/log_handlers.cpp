#include "common/log_handlers.hpp"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/rotating_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <filesystem>
#include <mutex>
#include <stdexcept>

#include "common/json_text.hpp"
#include "common/log.hpp"

namespace emqxd::log {

namespace {

// ---------------------------------------------------------------------------- lines

class LineFormatter final : public spdlog::formatter {
 public:
  LineFormatter(bool json, bool epoch, std::string offset)
      : json_(json), epoch_(epoch), offset_(std::move(offset)) {
    if (offset_ != "system" && offset_ != "utc") {
      const int h = (offset_[1] - '0') * 10 + (offset_[2] - '0');
      const int m = (offset_[4] - '0') * 10 + (offset_[5] - '0');
      fixed_ = (offset_[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
    }
  }

  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    thread_local std::string line;
    line.clear();
    const auto since = msg.time.time_since_epoch();
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(since).count();
    const auto level = spdlog::level::to_string_view(msg.level);
    const std::string_view module(msg.logger_name.data(), msg.logger_name.size());
    const std::string_view text(msg.payload.data(), msg.payload.size());
    if (json_) {
      line += "{\"time\":";
      if (epoch_) {
        line += std::to_string(us);
      } else {
        line += '"';
        append_rfc3339(us, line);
        line += '"';
      }
      line += ",\"level\":\"";
      line.append(level.data(), level.size());
      line += "\",\"module\":";
      json_text::append_quoted(module, line);
      line += ",\"msg\":";
      json_text::append_quoted(text, line);
      line += "}\n";
    } else {
      if (epoch_) {
        line += std::to_string(us);
      } else {
        append_rfc3339(us, line);
      }
      line += " [";
      line.append(level.data(), level.size());
      line += "] [";
      line += module;
      line += "] ";
      line += text;
      line += '\n';
    }
    dest.append(line.data(), line.data() + line.size());
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<LineFormatter>(json_, epoch_, offset_);
  }

 private:
  // 2026-12-04T18:00:00.123456+01:00
  void append_rfc3339(std::int64_t us, std::string& out) const {
    std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    long offset = 0;
    if (offset_ == "system") {
      std::tm local{};
      localtime_r(&secs, &local);
      offset = local.tm_gmtoff;
    } else if (offset_ != "utc") {
      offset = fixed_;
    }
    std::time_t shifted = secs + offset;
    std::tm tm{};
    gmtime_r(&shifted, &tm);
    char buf[64];
    const long off_min = (offset < 0 ? -offset : offset) / 60;
    int n = std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld%c%02ld:%02ld",
                          tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                          tm.tm_sec, static_cast<long long>(us % 1'000'000), offset < 0 ? '-' : '+',
                          off_min / 60, off_min % 60);
    out.append(buf, static_cast<std::size_t>(n));
  }

  bool json_;
  bool epoch_;
  std::string offset_;
  long fixed_ = 0;
};

// ---------------------------------------------------------------------------- handlers

// One handler: the sink every module logger holds, whose inside a PUT may change.
class HandlerSink final : public spdlog::sinks::sink {
 public:
  explicit HandlerSink(HandlerConfig c) : config_(std::move(c)) {}

  // Each line reaches the file at once (one write): what is read, tailed or collected
  // after a crash is whole. Nothing is logged per message at info, so this is cheap.
  void log(const spdlog::details::log_msg& msg) override {
    std::lock_guard lock(mutex_);
    if (!out_) return;
    out_->log(msg);
    out_->flush();
  }
  void flush() override {
    std::lock_guard lock(mutex_);
    if (out_) out_->flush();
  }
  void set_pattern(const std::string&) override {}
  void set_formatter(std::unique_ptr<spdlog::formatter>) override {}

  HandlerConfig config() const {
    std::lock_guard lock(mutex_);
    return config_;
  }

  // Applies `c` (same name, path and rotation); throws when the file cannot be opened.
  void apply(const HandlerConfig& c) {
    std::lock_guard lock(mutex_);
    if (!c.enable) {
      out_.reset();  // closes the file
    } else if (!out_) {
      out_ = open(c);
    }
    if (out_) out_->set_formatter(make_formatter(c.formatter, c.timestamp_format, c.time_offset));
    set_level(c.enable ? parse_level(c.level).value_or(spdlog::level::info) : spdlog::level::off);
    config_ = c;
  }

 private:
  static std::shared_ptr<spdlog::sinks::sink> open(const HandlerConfig& c) {
    if (!c.is_file()) return std::make_shared<spdlog::sinks::stderr_sink_st>();
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(c.path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !fs::exists(dir, ec)) {
      fs::create_directories(dir, ec);  // under the process umask: 0700
      if (ec) {
        throw std::runtime_error("log.file." + c.name + ".path: cannot create " + dir.string() +
                                 ": " + ec.message());
      }
    }
    try {
      if (c.rotation_size == 0) {
        return std::make_shared<spdlog::sinks::basic_file_sink_st>(c.path);
      }
      // spdlog keeps max_files rotated files besides the current one; EMQX's count is them
      // all.
      return std::make_shared<spdlog::sinks::rotating_file_sink_st>(
          c.path, static_cast<std::size_t>(c.rotation_size),
          static_cast<std::size_t>(c.rotation_count > 0 ? c.rotation_count - 1 : 0));
    } catch (const spdlog::spdlog_ex& e) {
      throw std::runtime_error("log.file." + c.name + ".path: cannot open " + c.path + ": " +
                               e.what());
    }
  }

  mutable std::mutex mutex_;
  HandlerConfig config_;                      // guarded by mutex_
  std::shared_ptr<spdlog::sinks::sink> out_;  // null while disabled; guarded by mutex_
};

struct Registry {
  std::mutex mutex;                                 // serializes changes
  std::vector<std::shared_ptr<HandlerSink>> sinks;  // fixed after configure(); console first
  std::optional<std::string> primary;               // guarded by mutex
};

Registry& registry() {
  static Registry r;
  return r;
}

// Under the registry's mutex: every module logger's level.
void apply_primary(Registry& r) {
  spdlog::level::level_enum level = spdlog::level::off;
  if (r.primary) {
    level = parse_level(*r.primary).value_or(spdlog::level::info);
  } else {
    for (const auto& s : r.sinks) {
      auto c = s->config();
      if (c.enable) level = std::min(level, parse_level(c.level).value_or(spdlog::level::info));
    }
  }
  spdlog::apply_all([level](const std::shared_ptr<spdlog::logger>& l) { l->set_level(level); });
  spdlog::set_level(level);
}

std::string primary_of(Registry& r) {
  if (r.primary) return *r.primary;
  auto level = spdlog::level::off;
  std::string name = "none";
  for (const auto& s : r.sinks) {
    auto c = s->config();
    auto l = parse_level(c.level).value_or(spdlog::level::info);
    if (c.enable && l < level) {
      level = l;
      name = c.level;
    }
  }
  return name;
}

}  // namespace

std::optional<spdlog::level::level_enum> parse_level(std::string_view name) {
  using L = spdlog::level::level_enum;
  if (name == "debug" || name == "all") return L::debug;
  if (name == "info" || name == "notice") return L::info;
  if (name == "warning") return L::warn;
  if (name == "error") return L::err;
  if (name == "critical" || name == "alert" || name == "emergency") return L::critical;
  if (name == "none") return L::off;
  return std::nullopt;
}

std::string canonical_level(std::string_view name) {
  if (name == "all") return "debug";
  if (name == "critical" || name == "alert" || name == "emergency") return "error";
  return std::string(name);
}

bool valid_time_offset(std::string_view o) {
  if (o == "system" || o == "utc") return true;
  auto digit = [](char c) { return c >= '0' && c <= '9'; };
  // EMQX's ^([\-\+][0-1][0-9]:[0-6][0-9]|system|utc)$
  return o.size() == 6 && (o[0] == '+' || o[0] == '-') && (o[1] == '0' || o[1] == '1') &&
         digit(o[2]) && o[3] == ':' && o[4] >= '0' && o[4] <= '6' && digit(o[5]);
}

std::unique_ptr<spdlog::formatter> make_formatter(std::string_view formatter,
                                                  std::string_view timestamp_format,
                                                  std::string_view time_offset) {
  const bool json = formatter == "json";
  const bool epoch = timestamp_format == "epoch" || (timestamp_format == "auto" && json);
  return std::make_unique<LineFormatter>(
      json, epoch, valid_time_offset(time_offset) ? std::string(time_offset) : "system");
}

void configure(const LogSettings& settings) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.sinks.clear();
  std::vector<spdlog::sink_ptr> sinks;
  auto add = [&](const HandlerConfig& c) {
    auto s = std::make_shared<HandlerSink>(c);
    s->apply(c);
    r.sinks.push_back(s);
    sinks.push_back(s);
  };
  add(settings.console);
  for (const auto& f : settings.files)
    add(f);
  r.primary = settings.primary_level;
  auto logger = std::make_shared<spdlog::logger>("emqxd", sinks.begin(), sinks.end());
  spdlog::set_default_logger(logger);
  apply_primary(r);
}

LogSettings settings() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  LogSettings out;
  out.primary_level = r.primary;
  for (const auto& s : r.sinks) {
    auto c = s->config();
    if (c.is_file()) {
      out.files.push_back(std::move(c));
    } else {
      out.console = std::move(c);
    }
  }
  return out;
}

std::string primary_level() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return primary_of(r);
}

std::string update(const LogSettings& wanted) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::pair<std::shared_ptr<HandlerSink>, const HandlerConfig*>> plan;
  auto find = [&](const HandlerConfig& w) -> std::shared_ptr<HandlerSink> {
    for (const auto& s : r.sinks) {
      auto c = s->config();
      if (c.is_file() == w.is_file() && (!w.is_file() || c.name == w.name)) return s;
    }
    return nullptr;
  };
  auto check = [&](const HandlerConfig& w, const std::string& key) -> std::string {
    auto s = find(w);
    if (!s) {
      return key +
             ": no such handler; handlers are configured at start-up (emqx.conf), only "
             "their enable, level, formatter, time_offset and timestamp_format change "
             "at run time";
    }
    auto c = s->config();
    if (w.is_file() && (c.path != w.path || c.rotation_size != w.rotation_size ||
                        c.rotation_count != w.rotation_count)) {
      std::string which = c.path != w.path                     ? "path"
                          : c.rotation_size != w.rotation_size ? "rotation_size"
                                                               : "rotation_count";
      return key + "." + which + " cannot change at run time (restart with the new value)";
    }
    if (!parse_level(w.level)) return key + ".level: not a log level: " + w.level;
    if (w.formatter != "text" && w.formatter != "json")
      return key + ".formatter: must be text or json";
    if (!valid_time_offset(w.time_offset))
      return key + ".time_offset: must be system, utc or +hh:mm";
    if (w.timestamp_format != "auto" && w.timestamp_format != "epoch" &&
        w.timestamp_format != "rfc3339")
      return key + ".timestamp_format: must be auto, epoch or rfc3339";
    plan.emplace_back(s, &w);
    return "";
  };
  if (auto e = check(wanted.console, "log.console"); !e.empty()) return e;
  for (const auto& f : wanted.files) {
    if (auto e = check(f, "log.file." + f.name); !e.empty()) return e;
  }
  if (wanted.primary_level && !parse_level(*wanted.primary_level))
    return "log.level: not a log level: " + *wanted.primary_level;
  for (auto& [s, w] : plan) {
    HandlerConfig c = *w;
    c.level = canonical_level(c.level);
    try {
      s->apply(c);
    } catch (const std::exception& e) {
      return e.what();
    }
  }
  r.primary = wanted.primary_level;
  apply_primary(r);
  return "";
}

void set_all_levels(std::string_view level) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  for (const auto& s : r.sinks) {
    auto c = s->config();
    c.level = canonical_level(level);
    s->apply(c);
  }
  r.primary = canonical_level(level);
  apply_primary(r);
}

void set_primary_level(std::string_view level) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  r.primary = canonical_level(level);
  apply_primary(r);
}

}  // namespace emqxd::log
