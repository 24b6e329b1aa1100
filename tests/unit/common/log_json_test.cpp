// log.console.formatter = json: every line through the real sink and formatter that
// emqxd installs is one valid JSON object, whatever the message holds.
#include <spdlog/sinks/ostream_sink.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_text.hpp"
#include "common/log.hpp"
#include "common/log_handlers.hpp"

namespace {

namespace json = boost::json;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

// Installs a sink writing to `out` for the test's length, then puts the old logger back.
struct CapturedLog {
  CapturedLog(std::string_view formatter) : previous(spdlog::default_logger()) {
    emqxd::log::install(std::make_shared<spdlog::sinks::ostream_sink_mt>(out), formatter,
                        spdlog::level::trace);
  }
  ~CapturedLog() {
    for (const auto& m : modules)
      spdlog::drop(m);
    spdlog::set_default_logger(previous);
  }
  std::shared_ptr<spdlog::logger> module(const std::string& name) {
    modules.push_back(name);
    return emqxd::log::get(name);
  }
  std::ostringstream out;
  std::shared_ptr<spdlog::logger> previous;
  std::vector<std::string> modules;
};

const std::string kControls = [] {
  std::string s;
  for (int c = 1; c < 0x20; ++c)
    s += static_cast<char>(c);
  return s + "\x7F";
}();

}  // namespace

TEST_CASE("JSON log lines are valid JSON whatever the message holds", "[log][json]") {
  CapturedLog log("json");
  auto logger = log.module("json-test");
  auto odd_module = log.module("mod\"ule\\x");
  // Each message, and what its "msg" must read back as.
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain", "plain"},
      {R"(a "quoted" word)", R"(a "quoted" word)"},
      {R"(back\slash \" \u0041 \n)", R"(back\slash \" \u0041 \n)"},
      {"two\nlines\r\nand a tab\t.", "two\nlines\r\nand a tab\t."},
      {kControls, kControls},
      {std::string("nul \0 inside", 12), std::string("nul \0 inside", 12)},
      {"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"},
      {"bad \xFF byte", "bad \xEF\xBF\xBD byte"},
      {"lone \x80 continuation", "lone \xEF\xBF\xBD continuation"},
      {"truncated \xE2\x82", "truncated \xEF\xBF\xBD\xEF\xBF\xBD"},
      {"overlong \xC0\xAF slash", "overlong \xEF\xBF\xBD\xEF\xBF\xBD slash"},
      {"surrogate \xED\xA0\x80", "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"above U+10FFFF \xF4\x90\x80\x80",
       "above U+10FFFF \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
      {"}\"],{", "}\"],{"},
      {"", ""},
  };
  for (const auto& [message, _] : cases)
    logger->warn("{}", message);
  odd_module->error("client_id={} said {}", "x\"y", "\x01\xFE");
  spdlog::default_logger()->flush();

  auto lines = lines_of(log.out.str());
  REQUIRE(lines.size() == cases.size() + 1);  // a newline in a message does not split its line
  for (std::size_t i = 0; i < lines.size(); ++i) {
    INFO("line " << i << ": " << lines[i]);
    json::error_code ec;
    json::value v = json::parse(lines[i], ec);  // rejects ill-formed UTF-8 too
    REQUIRE_FALSE(ec);
    REQUIRE(v.is_object());
    const json::object& o = v.as_object();
    CHECK(o.size() == 4);
    REQUIRE(o.contains("time"));
    // timestamp_format auto: epoch microseconds for json, as EMQX.
    REQUIRE(o.at("time").is_int64());
    const auto now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    CHECK(std::abs(o.at("time").as_int64() - now_us) < 60'000'000);
    if (i < cases.size()) {
      CHECK(o.at("level") == "warning");
      CHECK(o.at("module") == "json-test");
      CHECK(std::string(o.at("msg").as_string()) == cases[i].second);
    } else {
      CHECK(o.at("level") == "error");
      CHECK(o.at("module") == "mod\"ule\\x");
      CHECK(std::string(o.at("msg").as_string()) == "client_id=x\"y said \x01\xEF\xBF\xBD");
    }
  }
}

TEST_CASE("timestamp_format and time_offset", "[log]") {
  spdlog::details::log_msg msg("mod", spdlog::level::info, "hello");
  // 2026-12-04T18:00:00.123456Z
  msg.time = std::chrono::system_clock::time_point(std::chrono::microseconds(1796407200123456));
  auto format = [&](std::string_view f, std::string_view ts, std::string_view off) {
    spdlog::memory_buf_t buf;
    emqxd::log::make_formatter(f, ts, off)->format(msg, buf);
    return std::string(buf.data(), buf.size());
  };
  CHECK(format("text", "auto", "utc") == "2026-12-04T18:00:00.123456+00:00 [info] [mod] hello\n");
  CHECK(format("text", "rfc3339", "+02:30") ==
        "2026-12-04T20:30:00.123456+02:30 [info] [mod] hello\n");
  CHECK(format("text", "rfc3339", "-05:00") ==
        "2026-12-04T13:00:00.123456-05:00 [info] [mod] hello\n");
  CHECK(format("text", "epoch", "utc") == "1796407200123456 [info] [mod] hello\n");
  CHECK(format("json", "auto", "utc") ==
        "{\"time\":1796407200123456,\"level\":\"info\",\"module\":\"mod\",\"msg\":\"hello\"}\n");
  CHECK(format("json", "rfc3339", "utc") ==
        "{\"time\":\"2026-12-04T18:00:00.123456+00:00\",\"level\":\"info\",\"module\":\"mod\","
        "\"msg\":\"hello\"}\n");
  CHECK(emqxd::log::valid_time_offset("+08:00"));
  CHECK_FALSE(emqxd::log::valid_time_offset("+8:00"));
  CHECK_FALSE(emqxd::log::valid_time_offset("+25:00"));
}

TEST_CASE("the text format is unchanged", "[log]") {
  CapturedLog log("text");
  log.module("text-test")->info("a \"b\"\nc");
  spdlog::default_logger()->flush();
  auto text = log.out.str();
  CHECK(text.find(" [info] [text-test] a \"b\"\nc\n") != std::string::npos);
}

TEST_CASE("valid_utf8 keeps well-formed text as it is", "[log][json]") {
  std::string scratch;
  std::string_view ok = "caf\xC3\xA9";
  CHECK(emqxd::json_text::valid_utf8(ok, scratch).data() == ok.data());  // no copy
  CHECK(emqxd::json_text::valid_utf8("\xC3", scratch) == "\xEF\xBF\xBD");
  std::string out;
  emqxd::json_text::append_quoted("\"\\\n\x1F", out);
  CHECK(out == R"("\"\\\n\u001f")");
}
