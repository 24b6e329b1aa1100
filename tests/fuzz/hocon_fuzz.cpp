// libFuzzer harness for the HOCON parser (server/config/hocon.hpp) and the config loader
// on top of it: what an operator's emqx.conf, or an EMQX_* value, can hold. Bad input
// must end in a ConfigError naming where, never a crash, a hang or another exception.
//
// The first input byte picks the entry point; the rest is the text. Inputs with `include`
// are skipped: an include reads files of the machine, which a fuzzer must not depend on
// (tests/unit/config/hocon_test.cpp covers includes).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config.hpp"
#include "config/hocon.hpp"

namespace hocon = emqxd::config::hocon;

namespace {

const hocon::Env& env() {
  static const hocon::Env e{{"HOME", "/home/emqx"}, {"X", "1"}, {"EMQX_NODE__NAME", "a@b"}};
  return e;
}

// Every leaf converts without crashing; walk depth is bounded by the parser's nesting limit.
void walk(const hocon::Value& v) {
  (void)v.to_bool();
  (void)v.to_int();
  (void)v.to_double();
  for (const auto& e : v.elements())
    walk(e);
  for (const auto& f : v.fields()) {
    (void)v.find(f.key);
    walk(f.value);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (text.find("include") != std::string_view::npos) return 0;
  try {
    switch (data[0] % 4) {
      case 0: {
        hocon::Value v = hocon::parse(text, "fuzz.conf", env());
        walk(v);
        (void)v.to_json();
        break;
      }
      case 1: {
        // What the loader does with EMQX_* overrides: a value layered on a document.
        hocon::Value root = hocon::parse_unresolved("a { b = 1, c = [1, 2] }\n", "base.conf");
        hocon::Value v = hocon::parse_value_unresolved(text, "EMQX_A__B");
        const std::string path[] = {"a", "b"};
        hocon::set_path(root, path, std::move(v));
        hocon::resolve(root, env());
        walk(root);
        break;
      }
      case 2: {
        auto c = emqxd::config::load_string(text, env(), "fuzz.conf");
        (void)c;
        break;
      }
      default: {
        (void)emqxd::config::parse_duration(text);
        (void)emqxd::config::parse_size(text);
        break;
      }
    }
  } catch (const emqxd::config::ConfigError&) {
    // The documented way to refuse bad input.
  }
  return 0;
}
