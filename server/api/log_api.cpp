// /api/v5/configs/log and /api/v5/log/*: the log handlers' levels and formats at run time
// (common/log_handlers.hpp).
#include "api/log_api.hpp"

#include <boost/json.hpp>

#include "api/router.hpp"
#include "common/log.hpp"
#include "common/log_handlers.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

const std::shared_ptr<spdlog::logger>& logger() {
  static auto l = log::get("api");
  return l;
}

// 52428800 -> "50MB", as EMQX writes sizes; 0 -> "infinity".
std::string size_text(std::uint64_t n) {
  if (n == 0) return "infinity";
  if (n % (1024 * 1024) == 0) return std::to_string(n / (1024 * 1024)) + "MB";
  if (n % 1024 == 0) return std::to_string(n / 1024) + "KB";
  return std::to_string(n) + "B";
}

json::object handler_json(const log::HandlerConfig& h) {
  json::object o{{"enable", h.enable},
                 {"level", h.level},
                 {"formatter", h.formatter},
                 {"time_offset", h.time_offset},
                 {"timestamp_format", h.timestamp_format}};
  if (h.is_file()) {
    o["path"] = h.path;
    o["rotation_count"] = h.rotation_count;
    o["rotation_size"] = size_text(h.rotation_size);
  }
  return o;
}

json::object config_json(const log::LogSettings& s) {
  json::object files;
  for (const auto& f : s.files)
    files[f.name] = handler_json(f);
  return json::object{{"console", handler_json(s.console)}, {"file", std::move(files)}};
}

std::optional<std::uint64_t> parse_size_text(const json::value& v) {
  if (v.is_int64() && v.get_int64() >= 0) return static_cast<std::uint64_t>(v.get_int64());
  if (!v.is_string()) return std::nullopt;
  std::string t(v.get_string());
  if (t == "infinity") return 0;
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < t.size() && t[i] >= '0' && t[i] <= '9' && n < (std::uint64_t{1} << 50))
    n = n * 10 + static_cast<std::uint64_t>(t[i++] - '0');
  if (i == 0) return std::nullopt;
  std::string unit = t.substr(i);
  for (char& c : unit)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (unit.empty() || unit == "b") return n;
  if (unit == "kb") return n * 1024;
  if (unit == "mb") return n * 1024 * 1024;
  if (unit == "gb") return n * 1024 * 1024 * 1024;
  return std::nullopt;
}

// Fields of one handler object onto `h`; "" or what is wrong ("log.console.level: ...").
std::string patch_handler(const json::object& o, const std::string& key, log::HandlerConfig& h) {
  for (const auto& kv : o) {
    const std::string k(kv.key());
    const json::value& v = kv.value();
    const std::string where = key + "." + k;
    auto str = [&](std::string& out) -> bool {
      if (!v.is_string()) return false;
      out = std::string(v.get_string());
      return true;
    };
    if (k == "enable") {
      if (!v.is_bool()) return where + ": must be true or false";
      h.enable = v.get_bool();
    } else if (k == "level") {
      if (!str(h.level) || !log::parse_level(h.level)) return where + ": not a log level";
    } else if (k == "formatter") {
      if (!str(h.formatter) || (h.formatter != "text" && h.formatter != "json"))
        return where + ": must be text or json";
    } else if (k == "time_offset") {
      if (!str(h.time_offset) || !log::valid_time_offset(h.time_offset))
        return where + ": must be system, utc or +hh:mm";
    } else if (k == "timestamp_format") {
      if (!str(h.timestamp_format)) return where + ": must be auto, epoch or rfc3339";
    } else if (h.is_file() && (k == "path" || k == "file" || k == "to")) {
      std::string p;
      if (!str(p)) return where + ": must be a string";
      if (p != h.path) return where + " cannot change at run time (restart with the new value)";
    } else if (h.is_file() && k == "rotation_count") {
      if (!v.is_int64() || v.get_int64() != h.rotation_count)
        return where + " cannot change at run time (restart with the new value)";
    } else if (h.is_file() && (k == "rotation_size" || k == "max_size")) {
      auto n = parse_size_text(v);
      if (!n || *n != h.rotation_size)
        return where + " cannot change at run time (restart with the new value)";
    } else {
      return where + ": unknown key";
    }
  }
  return "";
}

bool is_handler_field(std::string_view k) {
  for (auto f : {"enable", "level", "formatter", "time_offset", "timestamp_format", "path", "file",
                 "to", "rotation_count", "rotation_size", "max_size"}) {
    if (k == f) return true;
  }
  return false;
}

// {"level": "debug"}: the level, or the answer to give.
std::optional<std::string> level_of(const std::string& body, Response& error) {
  auto o = parse_object(body);
  const json::value* l = o ? o->if_contains("level") : nullptr;
  if (l == nullptr || !l->is_string() || !log::parse_level(l->get_string())) {
    error = bad_request(
        "expected {\"level\": L}, L one of debug, info, notice, warning, error, critical, "
        "alert, emergency, all, none");
    return std::nullopt;
  }
  return std::string(l->get_string());
}

json::object levels_json() {
  auto s = log::settings();
  json::array handlers;
  auto add = [&](const log::HandlerConfig& h) {
    json::object o{{"id", h.is_file() ? "file:" + h.name : h.name},
                   {"enable", h.enable},
                   {"level", h.level},
                   {"formatter", h.formatter}};
    if (h.is_file()) o["path"] = h.path;
    handlers.push_back(std::move(o));
  };
  add(s.console);
  for (const auto& f : s.files)
    add(f);
  return json::object{{"primary_level", log::primary_level()}, {"handlers", std::move(handlers)}};
}

}  // namespace

void add_log_routes(RouteTable& t) {
  t.add("GET", "/api/v5/configs/log", "the log handlers (EMQX's log config)",
        [](const Call&) { return json_response(200, config_json(log::settings())); });
  t.add(
      "PUT", "/api/v5/configs/log",
      "change the log handlers' enable, level, formatter, time_offset, timestamp_format",
      [](const Call& c) {
        auto body = parse_object(c.request.body);
        if (!body) return bad_request("expected a JSON object: the log config, or part of it");
        log::LogSettings wanted = log::settings();
        wanted.primary_level.reset();  // follows the handlers again, as EMQX's update does
        for (const auto& kv : *body) {
          const std::string k(kv.key());
          if (!kv.value().is_object()) return bad_request("log." + k + ": expected an object");
          const json::object& o = kv.value().get_object();
          if (k == "console") {
            if (auto e = patch_handler(o, "log.console", wanted.console); !e.empty())
              return bad_request(e);
          } else if (k == "file") {
            // EMQX's union: the handler's fields straight under "file" (the handler
            // "default"), or handlers by name.
            json::object direct;
            for (const auto& f : o) {
              if (is_handler_field(f.key())) {
                direct[f.key()] = f.value();
                continue;
              }
              auto h = std::find_if(wanted.files.begin(), wanted.files.end(),
                                    [&](const log::HandlerConfig& x) { return x.name == f.key(); });
              const std::string key = "log.file." + std::string(f.key());
              if (h == wanted.files.end()) {
                return bad_request(key +
                                   ": no such handler; file handlers are configured at "
                                   "start-up (emqx.conf) and cannot be added at run time");
              }
              if (!f.value().is_object()) return bad_request(key + ": expected an object");
              if (auto e = patch_handler(f.value().get_object(), key, *h); !e.empty())
                return bad_request(e);
            }
            if (!direct.empty()) {
              auto h =
                  std::find_if(wanted.files.begin(), wanted.files.end(),
                               [](const log::HandlerConfig& x) { return x.name == "default"; });
              if (h == wanted.files.end()) {
                return bad_request(
                    "log.file.default: no such handler; file handlers are configured at "
                    "start-up (emqx.conf) and cannot be added at run time");
              }
              if (auto e = patch_handler(direct, "log.file.default", *h); !e.empty())
                return bad_request(e);
            }
          } else {
            return bad_request("log." + k + ": not a key that changes at run time (console, file)");
          }
        }
        if (auto e = log::update(wanted); !e.empty()) return bad_request(e);
        logger()->warn("log handlers changed through the HTTP API: primary level {}",
                       log::primary_level());
        return json_response(200, config_json(log::settings()));
      });
  t.add("GET", "/api/v5/log/level", "the primary log level and each handler's",
        [](const Call&) { return json_response(200, levels_json()); });
  t.add("PUT", "/api/v5/log/level", "set every log handler's level and the primary level",
        [](const Call& c) {
          Response error;
          auto level = level_of(c.request.body, error);
          if (!level) return error;
          log::set_all_levels(*level);
          logger()->warn("log level set to {} through the HTTP API", *level);
          return json_response(200, levels_json());
        });
  t.add("PUT", "/api/v5/log/primary_level", "set the primary log level", [](const Call& c) {
    Response error;
    auto level = level_of(c.request.body, error);
    if (!level) return error;
    log::set_primary_level(*level);
    logger()->warn("primary log level set to {} through the HTTP API", *level);
    return json_response(200, levels_json());
  });
}

}  // namespace emqxd::api
