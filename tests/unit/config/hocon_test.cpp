// The HOCON parser: every syntax feature the header promises, substitutions, includes,
// errors with their lines, and a fuzz smoke test.
#include "config/hocon.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <random>
#include <string>

#include "config/config.hpp"
#include "config/temp_dir.hpp"

namespace {

namespace hocon = emqxd::config::hocon;
using emqxd::config::ConfigError;
using emqxd::config::test::TempDir;

std::string json(std::string_view text, const hocon::Env& env = {}) {
  return hocon::parse(text, "t.conf", env).to_json();
}

// The message of the ConfigError that parsing `text` throws.
std::string error_of(std::string_view text, const hocon::Env& env = {}) {
  try {
    hocon::parse(text, "t.conf", env);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

// Sanitizers slow each parse about tenfold; the fuzz smoke test scales down under them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

}  // namespace

TEST_CASE("root object with or without braces", "[hocon]") {
  CHECK(json("") == "{}");
  CHECK(json("  # only a comment\n// and another\n") == "{}");
  CHECK(json("a = 1") == R"({"a":1})");
  CHECK(json("{ a = 1 }") == R"({"a":1})");
  CHECK(json("\n{\n  a = 1\n}\n# trailing comment\n") == R"({"a":1})");
  CHECK(json("\xEF\xBB\xBF"
             "a = 1") == R"({"a":1})");
  CHECK(error_of("{ a = 1 } b = 2") == "t.conf:1: unexpected 'b' after the root object");
  CHECK(error_of("[1, 2]") == "t.conf:1: an included file must contain an object");
}

TEST_CASE("separators: =, :, and none before an object", "[hocon]") {
  CHECK(json("a = 1\nb : 2\nc { d = 3 }\ne={f=4}") == R"({"a":1,"b":2,"c":{"d":3},"e":{"f":4}})");
  CHECK(json("a =\n  1") == R"({"a":1})");
  CHECK(json(R"({"a": {"b": [1, 2.5, "x", true, null]}})") ==
        R"({"a":{"b":[1,2.5,"x",true,null]}})");
  CHECK(error_of("a 1") == "t.conf:1: expected '=', ':' or '{' after \"a 1\", got end of input");
  CHECK(error_of("a\nb = 1") == "t.conf:1: expected '=', ':' or '{' after a, got end of line");
}

TEST_CASE("fields are separated by commas or new lines, one trailing comma", "[hocon]") {
  CHECK(json("a = 1, b = 2") == R"({"a":1,"b":2})");
  CHECK(json("a = 1\nb = 2\n") == R"({"a":1,"b":2})");
  CHECK(json("{ a = 1, b = 2, }") == R"({"a":1,"b":2})");
  CHECK(json("a = 1,\nb = 2,\n") == R"({"a":1,"b":2})");
  CHECK(json("a = 1 // one\n  , b = 2") == R"({"a":1,"b":2})");  // newline, then comma
  CHECK(error_of("a = 1\n,, b = 2") == "t.conf:2: unexpected ','");
  CHECK(error_of("a = 1,, b = 2") == "t.conf:1: unexpected ','");
  CHECK(error_of("{ , a = 1 }") == "t.conf:1: unexpected ','");
  CHECK(error_of("a = 1 b = 2") ==
        "t.conf:1: unexpected '=' after the value of a (quote strings that contain '=')");
}

TEST_CASE("dotted keys build nested objects that merge", "[hocon]") {
  CHECK(json("a.b.c = 1") == R"({"a":{"b":{"c":1}}})");
  CHECK(json("a.b = 1\na.c = 2\na { d = 3 }") == R"({"a":{"b":1,"c":2,"d":3}})");
  CHECK(json("listeners.tcp.default { bind = \"0.0.0.0:1883\" "
             "}\nlisteners.tcp.default.max_connections = 10") ==
        R"({"listeners":{"tcp":{"default":{"bind":"0.0.0.0:1883","max_connections":10}}}})");
  CHECK(json("a { b.c = 1 }") == R"({"a":{"b":{"c":1}}})");
  // Numbers in keys are text, and their dots split the path.
  CHECK(json("3.14 = x\ntrue = y") == R"({"3":{"14":"x"},"true":"y"})");
}

TEST_CASE("quoted keys keep their dots, empty path elements must be quoted", "[hocon]") {
  CHECK(json(R"("a.b".c = 1)") == R"({"a.b":{"c":1}})");
  CHECK(json(R"("a b" = 1, "" = 2, a."".b = 3)") == R"({"a b":1,"":2,"a":{"":{"b":3}}})");
  CHECK(json(R"(foo"bar" = 1)") == R"({"foobar":1})");
  CHECK(json("\"include\" = 1") == R"({"include":1})");
  CHECK(json("a b c = 1") == R"({"a b c":1})");
  CHECK(error_of("a..b = 1") == "t.conf:1: a path must not start or end with '.' or have '..'");
  CHECK(error_of(".a = 1") == "t.conf:1: a path must not start or end with '.' or have '..'");
  CHECK(error_of("a. = 1") == "t.conf:1: a path must not start or end with '.' or have '..'");
}

TEST_CASE("a repeated key: objects merge, other values are replaced", "[hocon]") {
  CHECK(json("a = 1\na = 2") == R"({"a":2})");
  CHECK(json("a { x = 1, y = 1 }\na { y = 2, z = 2 }") == R"({"a":{"x":1,"y":2,"z":2}})");
  CHECK(json("a { x { p = 1 } }\na { x { q = 2 } }") == R"({"a":{"x":{"p":1,"q":2}}})");
  CHECK(json("a { x = 1 }\na = 5") == R"({"a":5})");
  CHECK(json("a = 5\na { x = 1 }") == R"({"a":{"x":1}})");
  // null in between prevents the merge.
  CHECK(json("a { x = 1 }\na = null\na { y = 2 }") == R"({"a":{"y":2}})");
  CHECK(json("a = [1]\na = [2]") == R"({"a":[2]})");
}

TEST_CASE("+= appends to an array", "[hocon]") {
  CHECK(json("a += 1") == R"({"a":[1]})");
  CHECK(json("a = [1]\na += 2\na += [3]") == R"({"a":[1,2,[3]]})");
  CHECK(json("x { a = [1] }\nx { a += 2 }") == R"({"x":{"a":[1,2]}})");
  CHECK(json("b = [0]\na = ${b}\na += 1") == R"({"b":[0],"a":[0,1]})");
  CHECK(error_of("a = 1\na += 2") ==
        "t.conf:2: a: += needs an array, the earlier value is not one");
}

TEST_CASE("comments with # and //, anywhere a line can end", "[hocon]") {
  CHECK(json("a = 1 # one\nb = 2 // two\n// c = 3\n# d = 4") == R"({"a":1,"b":2})");
  CHECK(json("a { # open\n  b = 1 // inside\n} # close") == R"({"a":{"b":1}})");
  CHECK(json("a = [1, # one\n 2 // two\n]") == R"({"a":[1,2]})");
  CHECK(json(R"(url = "http://example.com/#x")") == R"({"url":"http://example.com/#x"})");
  CHECK(json("a = foo//bar") == R"({"a":"foo"})");
}

TEST_CASE("unquoted strings and value concatenation", "[hocon]") {
  CHECK(json("level = warning") == R"({"level":"warning"})");
  CHECK(json("a = foo bar  baz  ") == R"({"a":"foo bar  baz"})");
  CHECK(json("a = 30s, b = 1MB, c = 0.0.0.0, d = /var/lib/emqx") ==
        R"({"a":"30s","b":"1MB","c":"0.0.0.0","d":"/var/lib/emqx"})");
  CHECK(json("name = emqx@127.0.0.1") == R"({"name":"emqx@127.0.0.1"})");  // EMQX's divergence
  CHECK(json("a = 1.50 x") == R"({"a":"1.50 x"})");
  CHECK(json("a = true foo") == R"({"a":"true foo"})");
  CHECK(json("a = \"quoted \"unquoted") == R"({"a":"quoted unquoted"})");
  CHECK(json("a = on, b = off, c = yes") == R"({"a":"on","b":"off","c":"yes"})");
  CHECK(json("a = include") == R"({"a":"include"})");
}

TEST_CASE("':' and other forbidden characters end unquoted text", "[hocon]") {
  CHECK(error_of("listeners.tcp.default {\n  bind = 0.0.0.0:1883\n}") ==
        "t.conf:2: unexpected ':' after the value of bind (quote strings that contain ':')");
  CHECK(error_of("a = :1883") ==
        "t.conf:1: expected a value for a, got ':' (quote strings that contain ':')");
  CHECK(error_of("a = x!") ==
        "t.conf:1: unexpected '!' after the value of a (quote strings that contain '!')");
  CHECK(error_of("a = $x") ==
        "t.conf:1: '$' starts a substitution ${...}; quote a string that contains '$'");
  CHECK(error_of("a = ") == "t.conf:1: expected a value for a, got end of input");
  CHECK(error_of("a = # nothing\nb = 1") == "t.conf:1: expected a value for a, got '#'");
}

TEST_CASE("literals: numbers, booleans, null", "[hocon]") {
  auto v = hocon::parse("i = 42, n = -7, f = 2.5, e = 1e3, t = true, b = false, z = null, s = 01",
                        "t.conf", {});
  CHECK(v.at("i")->is_number());
  CHECK(v.at("i")->to_int() == 42);
  CHECK(v.at("n")->to_int() == -7);
  CHECK(v.at("f")->to_double() == 2.5);
  CHECK_FALSE(v.at("f")->to_int().has_value());
  CHECK(v.at("e")->to_int() == 1000);
  CHECK(v.at("t")->to_bool() == true);
  CHECK(v.at("b")->to_bool() == false);
  CHECK(v.at("z")->is_null());
  CHECK(v.at("s")->is_string());  // 01 is not a JSON number
  CHECK(v.at("s")->text() == "01");
  CHECK_FALSE(v.at("i")->to_bool().has_value());
  CHECK(json("big = 99999999999999999999") == R"({"big":99999999999999999999})");
  CHECK_FALSE(hocon::parse("big = 99999999999999999999", "t", {}).at("big")->to_int());
}

TEST_CASE("automatic conversions from strings", "[hocon]") {
  auto v = hocon::parse(R"(a = "on", b = off, c = "yes", d = no, e = "12", f = "1.5", g = "x")",
                        "t.conf", {});
  CHECK(v.at("a")->to_bool() == true);
  CHECK(v.at("b")->to_bool() == false);
  CHECK(v.at("c")->to_bool() == true);
  CHECK(v.at("d")->to_bool() == false);
  CHECK(v.at("e")->to_int() == 12);
  CHECK(v.at("f")->to_double() == 1.5);
  CHECK_FALSE(v.at("g")->to_int());
  CHECK_FALSE(v.at("g")->to_bool());
}

TEST_CASE("quoted strings and their escapes", "[hocon]") {
  CHECK(json(R"(a = "x\"y\\z\/\b\f\n\r\t")") == R"({"a":"x\"y\\z/\u0008\u000c\n\r\t"})");
  auto v = hocon::parse(R"(a = "\u00e9\u20ac\ud83d\ude00")", "t.conf", {});
  CHECK(v.at("a")->text() == "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
  CHECK(json(R"(a = "# not a comment // either")") == R"({"a":"# not a comment // either"})");
  CHECK(json(R"(a = "${not.a.substitution}")") == R"({"a":"${not.a.substitution}"})");
  CHECK(error_of(R"(a = "C:\path")") ==
        "t.conf:1: invalid escape \\p in a quoted string (write \\\\ for a backslash)");
  CHECK(error_of("a = 1\nb = \"open\nc = 2") ==
        "t.conf:2: unterminated string (use \"\"\" for text across lines)");
  CHECK(error_of("a = \"open") == "t.conf:1: unterminated string");
  CHECK(error_of(R"(a = "\u12")") == "t.conf:1: invalid \\u escape");
  CHECK(error_of(R"(a = "\ud83d")") == "t.conf:1: invalid \\u escape: lone surrogate");
}

TEST_CASE("triple-quoted strings are raw and may span lines", "[hocon]") {
  CHECK(json("a = \"\"\"line 1\n  line \\n 2 \"quoted\"\"\"\"") ==
        R"({"a":"line 1\n  line \\n 2 \"quoted\""})");
  CHECK(json("a = \"\"\"x\"\"\"\"\"") == R"({"a":"x\"\""})");
  CHECK(json("a = \"\"\"\"\"\"") == R"({"a":""})");
  // Lines inside the string are counted.
  CHECK(error_of("a = \"\"\"1\n2\n3\"\"\"\nb = :") ==
        "t.conf:4: expected a value for b, got ':' (quote strings that contain ':')");
  CHECK(error_of("a = 1\nb = \"\"\"never\nclosed") == "t.conf:2: unterminated \"\"\" string");
}

TEST_CASE("arrays", "[hocon]") {
  CHECK(json("a = []") == R"({"a":[]})");
  CHECK(json("a = [1, 2, 3,]") == R"({"a":[1,2,3]})");
  CHECK(json("a = [\n  1\n  2\n\n  3\n]") == R"({"a":[1,2,3]})");
  CHECK(json("a = [1 2 3]") == R"({"a":["1 2 3"]})");
  CHECK(json("a = [1\n, 2\n, 3\n]") == R"({"a":[1,2,3]})");
  CHECK(json("a = [[1, 2], [3]]") == R"({"a":[[1,2],[3]]})");
  CHECK(json("a = [{ x = 1 }, { y = 2 }]") == R"({"a":[{"x":1},{"y":2}]})");
  CHECK(json(R"(seeds = ["emqx1@127.0.0.1", "emqx2@127.0.0.1"])") ==
        R"({"seeds":["emqx1@127.0.0.1","emqx2@127.0.0.1"]})");
  CHECK(error_of("a = [1,,2]") == "t.conf:1: unexpected ','");
  CHECK(error_of("a = [,1]") == "t.conf:1: unexpected ','");
  CHECK(error_of("a = [1, 2,,]") == "t.conf:1: unexpected ','");
  CHECK(error_of("a = [1,\n2,\n") ==
        "t.conf:3: expected ']' before the end of input (array opened at line 1)");
  CHECK(error_of("a = [1 }") == "t.conf:1: unexpected '}' in an array");
}

TEST_CASE("objects and arrays concatenate", "[hocon]") {
  CHECK(json("a = [1, 2] [3, 4]") == R"({"a":[1,2,3,4]})");
  CHECK(json("a = { b = 1 } { c = 2 }") == R"({"a":{"b":1,"c":2}})");
  CHECK(json("a { b = 1 } { b = 2 }") == R"({"a":{"b":2}})");
  CHECK(error_of("a = [1] x") ==
        "t.conf:1: cannot concatenate an array with a value of another type");
  CHECK(error_of("a = { b = 1 } [1]") ==
        "t.conf:1: cannot concatenate an object with a value of another type");
}

TEST_CASE("unterminated objects name the line they opened on", "[hocon]") {
  CHECK(error_of("a = 1\nb {\n  c = 2\n") ==
        "t.conf:4: expected '}' before the end of input (object opened at line 2)");
  CHECK(error_of("a = 1\n}") == "t.conf:2: unexpected '}'");
  CHECK(error_of("a {\n b = 1\n]") == "t.conf:3: expected a key, got ']'");
}

TEST_CASE("substitutions look the path up in the whole document", "[hocon][substitution]") {
  CHECK(json("a = 1\nb = ${a}") == R"({"a":1,"b":1})");
  CHECK(json("b = ${a}\na = 1") == R"({"b":1,"a":1})");  // forward reference
  CHECK(json("x.y.z = hi\nb = ${x.y}") == R"({"x":{"y":{"z":"hi"}},"b":{"z":"hi"}})");
  CHECK(json("a = 1\na = 2\nb = ${a}") == R"({"a":2,"b":2})");  // the final value
  CHECK(json("host = h\nport = 1883\nbind = ${host}\":\"${port}") ==
        R"({"host":"h","port":1883,"bind":"h:1883"})");
  CHECK(json("n = 5\nb = ${n}") == R"({"n":5,"b":5})");  // type preserved when alone
  CHECK(json("a = x\nb = ${ a }") == R"({"a":"x","b":"x"})");
  CHECK(json("b { c = ${a.x} }\na { x = [1] }") == R"({"b":{"c":[1]},"a":{"x":[1]}})");
  CHECK(json(R"("a.b" = 1, c = ${"a.b"})") == R"({"a.b":1,"c":1})");
}

TEST_CASE("objects may refer to paths inside themselves", "[hocon][substitution]") {
  CHECK(json("bar { foo = 42, baz = ${bar.foo} }") == R"({"bar":{"foo":42,"baz":42}})");
  CHECK(json("bar { foo = 42, baz = ${bar.foo} }\nbar { foo = 43 }") ==
        R"({"bar":{"foo":43,"baz":43}})");
  CHECK(
      json("bar : { a : ${foo.d}, b : 1 }\nbar.b = 3\nfoo : { c : ${bar.b}, d : 2 }\nfoo.d = 4") ==
      R"({"bar":{"a":4,"b":3},"foo":{"c":3,"d":4}})");
  CHECK(json("generic { size = 6 }\neast = ${generic} { name = east }") ==
        R"({"generic":{"size":6},"east":{"size":6,"name":"east"}})");
}

TEST_CASE("substitutions fall back to the environment", "[hocon][substitution]") {
  hocon::Env env{{"HOME", "/home/u"}, {"a.b", "dotted"}, {"N", "12"}};
  CHECK(json("h = ${HOME}", env) == R"({"h":"/home/u"})");
  CHECK(json("h = ${HOME}/data", env) == R"({"h":"/home/u/data"})");
  CHECK(json("v = ${a.b}", env) == R"({"v":"dotted"})");
  CHECK(json("HOME = mine\nh = ${HOME}", env) == R"({"HOME":"mine","h":"mine"})");
  // null set in the config hides the environment.
  CHECK(json("HOME = null\nh = ${HOME}", env) == R"({"HOME":null,"h":null})");
  CHECK(hocon::parse("n = ${N}", "t", env).at("n")->to_int() == 12);
  CHECK(json("PATH = ${PATH}\":/x\"", {{"PATH", "/bin"}}) == R"({"PATH":"/bin:/x"})");
}

TEST_CASE("optional substitutions", "[hocon][substitution]") {
  CHECK(json("a = ${?MISSING}") == "{}");
  CHECK(json("a = 1\na = ${?MISSING}") == R"({"a":1})");
  CHECK(json("a = 1\na = ${?SET}", {{"SET", "2"}}) == R"({"a":"2"})");
  CHECK(json("a = [1, ${?MISSING}, 3]") == R"({"a":[1,3]})");
  CHECK(json("a = x${?MISSING}y") == R"({"a":"xy"})");
  CHECK(json("a = ${?M1}${?M2}") == "{}");
  CHECK(json("a = [1] ${?MISSING}") == R"({"a":[1]})");
  CHECK(json("o { x = 1 }\no = ${?MISSING}") == R"({"o":{"x":1}})");
}

TEST_CASE("undefined substitutions and cycles are errors", "[hocon][substitution]") {
  CHECK(error_of("a = 1\nb = ${nope}") ==
        "t.conf:2: cannot resolve substitution ${nope}: no such key and no environment "
        "variable nope");
  CHECK(error_of("a = ${b}\nb = ${a}") == "t.conf:2: substitution ${a} is part of a cycle");
  CHECK(error_of("a = ${b}\nb = ${c}\nc = ${a}") ==
        "t.conf:3: substitution ${a} is part of a cycle");
  CHECK(error_of("a : { b : ${a} }") == "t.conf:1: substitution ${a} is part of a cycle");
  CHECK(error_of("a : [${a}]") == "t.conf:1: substitution ${a} is part of a cycle");
  CHECK(json("a : { b : ${?a}, c = 1 }") == R"({"a":{"c":1}})");
  CHECK(error_of("a = ${a}") ==
        "t.conf:1: cannot resolve substitution ${a}: no such key and no environment variable a");
  // Hidden by a later plain value: never evaluated.
  CHECK(json("foo = ${does-not-exist}\nfoo = 42") == R"({"foo":42})");
  CHECK(json("foo = ${foo}\nfoo = 42") == R"({"foo":42})");
}

TEST_CASE("self-references see the earlier value", "[hocon][substitution]") {
  CHECK(json("path = \"a:b:c\"\npath = ${path}\":d\"") == R"({"path":"a:b:c:d"})");
  CHECK(json("path = [/etc]\npath = ${path} [/usr/bin]") == R"({"path":["/etc","/usr/bin"]})");
  CHECK(json("a = a\na = ${a}bc") == R"({"a":"abc"})");
  CHECK(json("a = ${?a}foo") == R"({"a":"foo"})");
  CHECK(json("foo { a = 1 }\nfoo = ${foo}") == R"({"foo":{"a":1}})");
  CHECK(json("foo { a { c = 1 } }\nfoo = ${foo.a}\nfoo { a = 2 }") == R"({"foo":{"a":2,"c":1}})");
  CHECK(json("x { p = [1] }\nx { p = ${x.p} [2] }") == R"({"x":{"p":[1,2]}})");
  CHECK(json("a = 1\na = ${?a}") == R"({"a":1})");
}

TEST_CASE("includes are relative to the including file", "[hocon][include]") {
  TempDir dir;
  dir.write("conf.d/listeners.conf", "listeners.tcp.default.bind = \"0.0.0.0:1884\"\n");
  dir.write("conf.d/more.conf", "x = from_more\ninclude \"nested/deep.conf\"\n");
  dir.write("conf.d/nested/deep.conf", "deep = yes\n");
  std::string main = dir.write("emqx.conf",
                               "x = before\n"
                               "include \"conf.d/listeners.conf\"\n"
                               "include file(\"conf.d/more.conf\")\n"
                               "y = after\n");
  auto v = hocon::parse_file(main, {});
  CHECK(v.to_json() ==
        R"({"x":"from_more","listeners":{"tcp":{"default":{"bind":"0.0.0.0:1884"}}},)"
        R"("deep":"yes","y":"after"})");
  CHECK(v.at("listeners.tcp.default.bind")->origin().file ==
        (dir.path() / "conf.d/listeners.conf").string());
  CHECK(v.at("listeners.tcp.default.bind")->origin().line == 1);
}

TEST_CASE("include: later keys override included ones and the other way round",
          "[hocon][include]") {
  TempDir dir;
  dir.write("base.conf", "a = base\nb { x = 1, y = 1 }\n");
  std::string main = dir.write("main.conf", "a = early\ninclude \"base.conf\"\nb { y = 2 }\n");
  CHECK(hocon::parse_file(main, {}).to_json() == R"({"a":"base","b":{"x":1,"y":2}})");
}

TEST_CASE("include: missing files, required(), extension, bad forms", "[hocon][include]") {
  TempDir dir;
  dir.write("extra.conf", "e = 1\n");
  std::string d = dir.path().string();
  CHECK(hocon::parse("include \"nope.conf\"\na = 1", "t.conf", {}, d).to_json() == R"({"a":1})");
  CHECK(hocon::parse("include \"extra\"", "t.conf", {}, d).to_json() == R"({"e":1})");
  CHECK(hocon::parse("include required(\"extra.conf\")", "t.conf", {}, d).to_json() ==
        R"({"e":1})");
  CHECK(hocon::parse("include required( file( \"extra.conf\" ) )", "t.conf", {}, d).to_json() ==
        R"({"e":1})");
  auto err = [&](std::string_view text) {
    try {
      hocon::parse(text, "t.conf", {}, d);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(err("a = 1\ninclude required(\"nope.conf\")") ==
        "t.conf:2: cannot read included file " + (dir.path() / "nope.conf").string());
  CHECK(err("include url(\"http://x/y.conf\")") ==
        "t.conf:1: include url() and classpath() are not supported, use file()");
  CHECK(err("include nope.conf") == "t.conf:1: expected a quoted file name after include");
  CHECK(err("include required(\"extra.conf\"") ==
        "t.conf:1: expected ')' after the included file name");
}

TEST_CASE("include inside an object lands there, substitutions are relativized",
          "[hocon][include]") {
  TempDir dir;
  dir.write("foo.conf", "x = 10\ny = ${x}\nz = ${top}\n");
  std::string d = dir.path().string();
  CHECK(hocon::parse("top = t\na { include \"foo.conf\" }", "t.conf", {}, d).to_json() ==
        R"({"top":"t","a":{"x":10,"y":10,"z":"t"}})");
  CHECK(hocon::parse("a { include \"foo.conf\" }\na { x = 42 }\ntop = t", "t.conf", {}, d)
            .to_json() == R"({"a":{"x":42,"y":42,"z":"t"},"top":"t"})");
}

TEST_CASE("include: errors name the included file and its line, cycles are caught",
          "[hocon][include]") {
  TempDir dir;
  std::string bad = dir.write("bad.conf", "ok = 1\n\nbroken = [1,\n");
  std::string main = dir.write("main.conf", "include \"bad.conf\"\n");
  try {
    hocon::parse_file(main, {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) ==
          bad + ":4: expected ']' before the end of input (array opened at line 3)");
  }
  std::string a = dir.write("a.conf", "include \"b.conf\"\n");
  dir.write("b.conf", "include \"a.conf\"\n");
  try {
    hocon::parse_file(a, {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK_THAT(e.what(), Catch::Contains("include cycle"));
  }
}

TEST_CASE("a missing top-level file is an error naming it", "[hocon][include]") {
  TempDir dir;
  std::string path = (dir.path() / "absent.conf").string();
  try {
    hocon::parse_file(path, {});
    FAIL("no error");
  } catch (const ConfigError& e) {
    CHECK(std::string(e.what()) == path + ": cannot read config file: no such file");
  }
}

TEST_CASE("every value remembers its file and line", "[hocon]") {
  auto v = hocon::parse("# header\na = 1\nb {\n  c = [\n    x\n  ]\n}\nd = \"\"\"1\n2\"\"\"\ne = 5",
                        "emqx.conf", {});
  CHECK(v.at("a")->origin().to_string() == "emqx.conf:2");
  CHECK(v.at("b")->origin().line == 3);
  CHECK(v.at("b.c")->origin().line == 4);
  CHECK(v.at("b.c")->elements()[0].origin().line == 5);
  CHECK(v.at("d")->origin().line == 8);
  CHECK(v.at("e")->origin().line == 10);
  CHECK(v.at("nope") == nullptr);
  CHECK(v.at("a.b") == nullptr);
}

TEST_CASE("values substituted from the environment keep the line of the ${}", "[hocon]") {
  auto v = hocon::parse("\n\nport = ${PORT}", "emqx.conf", {{"PORT", "x"}});
  CHECK(v.at("port")->origin().to_string() == "emqx.conf:3");
}

TEST_CASE("nesting limits fail cleanly instead of exhausting the stack", "[hocon]") {
  std::string deep_array = "a = " + std::string(100000, '[');
  CHECK(error_of(deep_array) == "t.conf:1: objects and arrays nested too deeply");
  std::string deep_object;
  for (int i = 0; i < 5000; ++i)
    deep_object += "a {";
  CHECK(error_of(deep_object) == "t.conf:1: objects and arrays nested too deeply");
  std::string nested_ok = "a = " + std::string(50, '[') + std::string(50, ']');
  CHECK_NOTHROW(hocon::parse(nested_ok, "t", {}));
}

TEST_CASE("a long chain of substitutions resolves, a growing one fails", "[hocon]") {
  std::string chain = "v0 = 1\n";
  for (int i = 1; i < 100; ++i) {
    chain += "v" + std::to_string(i) + " = ${v" + std::to_string(i - 1) + "}\n";
  }
  CHECK(hocon::parse(chain, "t", {}).at("v99")->to_int() == 1);
  CHECK_THROWS_AS(hocon::parse("a = { x = ${b} }\nb = ${a}", "t", {}), ConfigError);
}

TEST_CASE("parse_value_unresolved reads one value, as environment overrides need", "[hocon]") {
  auto value = [](std::string_view text) {
    auto v = hocon::parse_value_unresolved(text, "EMQX_X");
    hocon::Value root = hocon::Value::make_object({"t", 0});
    hocon::set_path(root, std::vector<std::string>{"x"}, std::move(v));
    hocon::resolve(root, {});
    return root.at("x")->to_json();
  };
  CHECK(value("1884") == "1884");
  CHECK(value(R"(["n1@127.0.0.1:4371", "n2@127.0.0.1:4371"])") ==
        R"(["n1@127.0.0.1:4371","n2@127.0.0.1:4371"])");
  CHECK(value("{ bind = 1885 }") == R"({"bind":1885})");
  CHECK(value("warning") == R"("warning")");
  CHECK(value("  spaced words  ") == R"("spaced words")");
  CHECK(value(R"("0.0.0.0:1883")") == R"("0.0.0.0:1883")");
  CHECK_THROWS_AS(hocon::parse_value_unresolved("0.0.0.0:1883", "EMQX_X"), ConfigError);
  CHECK_THROWS_AS(hocon::parse_value_unresolved("secret#x", "EMQX_X"), ConfigError);
  CHECK_THROWS_AS(hocon::parse_value_unresolved("", "EMQX_X"), ConfigError);
  CHECK_THROWS_AS(hocon::parse_value_unresolved("a\nb", "EMQX_X"), ConfigError);
  auto v = hocon::parse_value_unresolved("[1,\n2]", "EMQX_X");
  CHECK(v.origin().to_string() == "EMQX_X");
}

TEST_CASE("set_path layers a value over a parsed document", "[hocon]") {
  auto root = hocon::parse_unresolved("a { b = 1, c = 2 }\nlist = [1]\nref = ${a.b}", "t.conf");
  hocon::set_path(root, std::vector<std::string>{"a", "b"},
                  hocon::Value::make_number("10", {"ENV", 0}));
  hocon::set_path(root, std::vector<std::string>{"list"},
                  hocon::parse_value_unresolved("${list} [2]", "ENV2"));
  hocon::set_path(root, std::vector<std::string>{"new", "key"},
                  hocon::Value::make_string("v", {"ENV3", 0}));
  hocon::resolve(root, {});
  CHECK(root.to_json() == R"({"a":{"b":10,"c":2},"list":[1,2],"ref":10,"new":{"key":"v"}})");
  CHECK(root.at("a.b")->origin().to_string() == "ENV");
}

TEST_CASE("path_to_string quotes keys that need it", "[hocon]") {
  CHECK(hocon::path_to_string(std::vector<std::string>{"a", "b.c", "", "d e"}) ==
        "a.\"b.c\".\"\".\"d e\"");
  CHECK(hocon::path_to_string(std::vector<std::string>{"listeners", "tcp", "default"}) ==
        "listeners.tcp.default");
}

// Deterministic random mutations of realistic configs: the parser and the loader must
// return or throw ConfigError, never crash, hang or throw anything else.
TEST_CASE("fuzz smoke: mutated configs only ever throw ConfigError", "[hocon][fuzz]") {
  const std::vector<std::string> samples = {
      "node {\n  name = \"emqx@127.0.0.1\"\n  data_dir = data\n}\n"
      "listeners.tcp.default {\n  bind = \"0.0.0.0:1883\"\n  max_connections = 1024000\n}\n"
      "mqtt { max_packet_size = 1MB, max_qos_allowed = 2, server_keepalive = disabled }\n",
      "a = 1\nb = ${a}\nc = ${?X} [1, 2]\npath = [/bin]\npath = ${path} [/usr/bin]\n"
      "d += 3\ne = \"\"\"raw\n text\"\"\"\nf = \"esc\\n\\u00e9\"\n// comment\n# comment\n",
      "{ \"json\": {\"x\": [1, 2.5e3, true, false, null, {\"y\": \"z\"}]}, k.\"q.k\" = v }\n",
      "listeners.ssl.default {\n  bind = 8883\n  ssl_options {\n    certfile = \"c.pem\"\n"
      "    verify = verify_peer\n  }\n}\nlisteners.ws.default.websocket.mqtt_path = \"/mqtt\"\n"
      "sys_topics.sys_event_messages { client_connected = true }\nretainer.enable = on\n"
      "include \"missing.conf\"\nx { include required(\"nope\") }\n",
  };
  const std::vector<std::string> tokens = {
      "${",  "${?",  "}",       "{",         "[",       "]",        "\"\"\"", "\"",
      "+=",  "//",   "#",       "\n",        ",",       ".",        "..",     "=",
      ":",   "\\u",  "\\",      "@",         "include", "null",     "1e5",    "-0",
      "a.b", "${a}", "${path}", "required(", "true",    "infinity", "\t",     "\xEF\xBB\xBF"};
  const std::string alphabet = "{}[]:=,+#\"$?.\n \t/\\@abcxyz019-e()";
  hocon::Env env{{"X", "[3]"}, {"HOME", "/h"}};
  TempDir dir;  // includes resolve to an empty directory
  std::mt19937 rng(20240517);
  auto pick = [&](std::size_t n) {
    return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng);
  };

  constexpr int kIterations = kSanitized ? 20000 : 200000;
  int parsed = 0;
  int rejected = 0;
  int mapped = 0;
  std::string unexpected;
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < kIterations && unexpected.empty(); ++i) {
    std::string text = samples[pick(samples.size())];
    int mutations = 1 + static_cast<int>(pick(4));
    for (int m = 0; m < mutations; ++m) {
      std::size_t at = text.empty() ? 0 : pick(text.size() + 1);
      switch (pick(6)) {
        case 0:
          text.insert(at, 1, alphabet[pick(alphabet.size())]);
          break;
        case 1:
          text.insert(at, tokens[pick(tokens.size())]);
          break;
        case 2:
          if (!text.empty()) text.erase(std::min(at, text.size() - 1), 1 + pick(8));
          break;
        case 3:
          if (!text.empty()) {
            std::size_t from = pick(text.size());
            text.insert(at, text.substr(from, 1 + pick(16)));
          }
          break;
        case 4:
          if (!text.empty()) text[std::min(at, text.size() - 1)] = static_cast<char>(pick(256));
          break;
        default:
          text.resize(at);
          break;
      }
    }
    bool ok = false;
    try {
      hocon::parse(text, "fuzz.conf", env, dir.path().string());
      ok = true;
      ++parsed;
    } catch (const ConfigError&) {
      ++rejected;
    } catch (const std::exception& e) {
      unexpected = std::string("parse threw ") + e.what() + " on:\n" + text;
    }
    // Documents that parse go on through the loader, which maps (or rejects) their keys.
    if (ok) {
      try {
        auto cfg = emqxd::config::load_string(text, {}, "fuzz.conf");
        ++mapped;
      } catch (const ConfigError&) {
      } catch (const std::exception& e) {
        unexpected = std::string("load_string threw ") + e.what() + " on:\n" + text;
      }
    }
  }
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  INFO("parsed " << parsed << " (" << mapped << " loaded), rejected " << rejected << " in "
                 << elapsed.count() << " ms");
  CHECK(unexpected.empty());
  if (!unexpected.empty()) FAIL(unexpected);
  CHECK(parsed > 1000);  // the mutations leave plenty of valid documents
  CHECK(rejected > 1000);
  CHECK(mapped > 100);
}
