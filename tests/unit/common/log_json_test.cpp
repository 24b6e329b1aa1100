// log.console.formatter = json: every line through the real sink and formatter that
// emqxd installs is one valid JSON object, whatever the message holds.
#include <spdlog/sinks/ostream_sink.h>

#include <boost/json.hpp>
#include <catch2/catch.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_text.hpp"
#include "common/log.hpp"

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
    CHECK(o.at("time").as_string().size() == std::string("2026-12-04T18:00:00.000+00:00").size());
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
