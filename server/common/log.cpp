#include "common/log.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>

#include "common/json_text.hpp"

namespace emqxd::log {

namespace {

// A field of the line as a JSON string, quotes included (the JSON format's %* and %~).
class JsonField final : public spdlog::custom_flag_formatter {
 public:
  enum class Field : std::uint8_t { Message, Module };
  explicit JsonField(Field field) : field_(field) {}

  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const auto& text = field_ == Field::Message ? msg.payload : msg.logger_name;
    thread_local std::string quoted;
    quoted.clear();
    json_text::append_quoted(std::string_view(text.data(), text.size()), quoted);
    dest.append(quoted.data(), quoted.data() + quoted.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonField>(field_);
  }

 private:
  Field field_;
};

std::unique_ptr<spdlog::formatter> make_formatter(std::string_view formatter) {
  if (formatter == "json") {
    auto f = std::make_unique<spdlog::pattern_formatter>();
    f->add_flag<JsonField>('*', JsonField::Field::Message);
    f->add_flag<JsonField>('~', JsonField::Field::Module);
    f->set_pattern(R"({"time":"%Y-%m-%dT%H:%M:%S.%e%z","level":"%l","module":%~,"msg":%*})");
    return f;
  }
  return std::make_unique<spdlog::pattern_formatter>("%Y-%m-%dT%H:%M:%S.%e [%l] [%n] %v");
}

}  // namespace

void install(std::shared_ptr<spdlog::sinks::sink> sink, std::string_view formatter,
             spdlog::level::level_enum level) {
  sink->set_formatter(make_formatter(formatter));
  auto logger = std::make_shared<spdlog::logger>("emqxd", std::move(sink));
  spdlog::set_default_logger(logger);
  spdlog::set_level(level);
}

std::shared_ptr<spdlog::logger> get(const std::string& module) {
  if (auto existing = spdlog::get(module)) return existing;
  auto def = spdlog::default_logger();
  auto created = std::make_shared<spdlog::logger>(module, def->sinks().begin(), def->sinks().end());
  created->set_level(def->level());
  try {
    spdlog::register_logger(created);
  } catch (const spdlog::spdlog_ex&) {
    return spdlog::get(module);  // another thread registered it first
  }
  return created;
}

}  // namespace emqxd::log
