// Conversions, type checks, maps, arrays, hashes, encodings, time and UUIDs, with the
// values of EMQX's "Built-in SQL Functions" page where it gives them.
#include <stdlib.h>
#include <time.h>

#include <catch2/catch.hpp>
#include <regex>

#include "rules_test_util.hpp"

namespace {

using emqxd::rules::test::eval;
using emqxd::rules::test::eval_error;

// Runs with the process's time zone set to `tz` (POSIX form), then puts it back.
class TimeZone {
 public:
  explicit TimeZone(const char* tz) {
    if (const char* old = getenv("TZ")) old_ = old;
    setenv("TZ", tz, 1);
    tzset();
  }
  ~TimeZone() {
    if (old_.empty()) {
      unsetenv("TZ");
    } else {
      setenv("TZ", old_.c_str(), 1);
    }
    tzset();
  }
  TimeZone(const TimeZone&) = delete;
  TimeZone& operator=(const TimeZone&) = delete;

 private:
  std::string old_;
};

}  // namespace

TEST_CASE("functions: type checks", "[rules][functions]") {
  CHECK(eval("is_null(this_is_an_unassigned_variable)") == "true");
  CHECK(eval("is_null(map_get('b', json_decode('{\"a\": 1}')))") == "true");
  CHECK(eval("is_null(map_get('b', json_decode('{\"b\": null}')))") == "false");
  CHECK(eval("is_null_var(map_get('b', json_decode('{\"b\": null}')))") == "true");
  CHECK(eval("is_not_null_var(map_get('b', json_decode('{\"b\": null}')))") == "false");
  CHECK(eval("is_not_null(1)") == "true");
  CHECK(eval("is_str('123')") == "true");
  CHECK(eval("is_str(123)") == "false");
  CHECK(eval("is_bool(true)") == "true");
  CHECK(eval("is_bool('true')") == "false");
  CHECK(eval("is_int(123)") == "true");
  CHECK(eval("is_int(123.4)") == "false");
  CHECK(eval("is_float(123.4)") == "true");
  CHECK(eval("is_float(123)") == "false");
  CHECK(eval("is_num(123)") == "true");
  CHECK(eval("is_num(123.4)") == "true");
  CHECK(eval("is_num('123')") == "false");
  CHECK(eval("is_map(json_decode('{\"value\": 1}'))") == "true");
  CHECK(eval("is_map(json_decode('[{\"value\": 1}]'))") == "false");
  CHECK(eval("is_array([1, 2])") == "true");
  CHECK(eval("is_array(json_decode('[{\"value\": 1}]'))") == "true");
  CHECK(eval("is_array('[1, 2]')") == "false");
  CHECK(eval("null()") == "undefined");
  CHECK(eval("is_null(null())") == "true");
}

TEST_CASE("functions: conversions", "[rules][functions]") {
  CHECK(eval("bool(true)") == "true");
  CHECK(eval("bool(0)") == "false");
  CHECK(eval("bool('false')") == "false");
  CHECK(eval("bool('true')") == "true");
  CHECK(eval_error("bool(20)") == "bool/1: bad argument");
  CHECK(eval_error("bool('True')") == "bool/1: bad argument");
  CHECK(eval("float(20)") == "20.0");
  CHECK(eval("float('3.14')") == "3.14");
  CHECK(eval("float('3.14e4')") == "31400.0");
  CHECK(eval("float('3.14e-4')") == "0.000314");
  CHECK(eval("float('3.14E-4')") == "0.000314");
  CHECK(eval("float('3.1415926', 3)") == "3.142");
  CHECK(eval("float('0.000012345', 5)") == "1e-05");
  CHECK(eval_error("float('abc')") == "float/1: bad argument");
  CHECK(eval("float2str(20.2, 10)") == R"("20.2")");
  CHECK(eval("float2str(20.2, 17)") == R"("20.19999999999999928")");
  CHECK(eval("float2str(0.1, 5)") == R"("0.1")");
  CHECK(eval("float2str(0.1, 20)") == R"("0.10000000000000000555")");
  CHECK(eval("float2str(0.1, 25)") == R"("0.1000000000000000055511151")");
  CHECK(eval("float2str(0.00000000001, 20)") == R"("0.00000000001")");
  CHECK(eval("float2str(0.100001, 5)") == R"("0.1")");
  CHECK(eval("float2str(123456789.01234565, 8)") == R"("123456789.01234566")");
  CHECK(eval("int(true)") == "1");
  CHECK(eval("int(3.14)") == "3");
  CHECK(eval("int(-3.14)") == "-4");  // the page prints 4: erlang:floor(-3.14) is -4
  CHECK(eval("int('-100')") == "-100");
  CHECK(eval("int('+200')") == "200");
  CHECK(eval("int('0010')") == "10");
  CHECK(eval("int('3.1415e2')") == "314");
  CHECK(eval("int('1234')") == "1234");
  CHECK(eval_error("int('-100+200')") == "int/1: bad argument");
  CHECK(eval_error("int('Number 100')") == "int/1: bad argument");
  CHECK(eval("str(100)") == R"("100")");
  CHECK(eval("str(1234)") == R"("1234")");
  CHECK(eval("str(nth(1, json_decode('[false]')))") == R"("false")");
  CHECK(eval("str(json_decode('{\"msg\": \"hello\"}'))") == R"("{\"msg\":\"hello\"}")");
  CHECK(eval("str(json_decode('[{\"msg\": \"hello\"}]'))") == R"("[{\"msg\":\"hello\"}]")");
  CHECK(eval("str(3.14159265359)") == R"("3.1415926536")");
  CHECK(eval("str(0.000000314159265359)") == R"("0.0000003142")");
  CHECK(eval("str(0.1 + 0.2)") == R"("0.3")");
  CHECK(eval("str(undefined)") == R"("undefined")");
  CHECK(eval("str([])") == R"("")");  // Erlang's empty list is text
  CHECK(eval("str_utf8(1234)") == R"("1234")");
  CHECK(eval("map('{\"a\": 1}')") == R"({"a":1})");
  CHECK(eval("map([])") == "{}");
  CHECK(eval_error("map('[1]')") == "map/1: bad argument");
}

TEST_CASE("functions: maps", "[rules][functions]") {
  CHECK(eval("map_get('msg', json_decode('{\"msg\": \"hello\"}'))") == R"("hello")");
  CHECK(eval("map_get('data', json_decode('{\"msg\": \"hello\"}'))") == "undefined");
  CHECK(eval("map_get('data', json_decode('{\"msg\": \"hello\"}'), '')") == R"("")");
  CHECK(eval("map_get('value', json_decode('{\"data\": [1.2, 1.3]}'), [])") == "[]");
  CHECK(eval("map_get('a', json_decode( '{ \"a\" : 1 }' ))") == "1");
  CHECK(eval("map_get('b', json_decode( '{ \"a\" : 1 }' ), 2)") == "2");
  CHECK(eval("map_get('a.b', json_decode('{\"a\": {\"b\": 3}}'))") == "3");
  CHECK(eval("map_get('key', '{\"key\" : []}')") == "[]");  // a string holding JSON
  CHECK(eval("map_get('b', map_put('b', 1, json_decode('{\"a\": 1}')))") == "1");
  CHECK(eval("map_get('a', map_put('a', 2, json_decode('{\"a\": 1}')))") == "2");
  CHECK(eval("map_put('a.b', 1, map_new())") == R"({"a":{"b":1}})");
  CHECK(eval("map_put('a', 1, 'not a map')") == R"({"a":1})");
  CHECK(eval("map_keys(json_decode('{\"a\": 1, \"b\": 2}'))") == R"(["a","b"])");
  CHECK(eval("map_values(json_decode('{\"a\": 1, \"b\": 2}'))") == "[1,2]");
  CHECK(eval("map_to_entries(json_decode('{\"a\": 1, \"b\": 2}'))") ==
        R"([{"key":"a","value":1},{"key":"b","value":2}])");
  CHECK(eval("mget('c', json_decode('{\"a\": {\"b\": 1}}'))") == "undefined");
  CHECK(eval("mget('a', json_decode('{\"a\": {\"b\": 1}}'))") == R"({"b":1})");
  CHECK(eval("mget(['a', 'b'], json_decode('{\"a\": {\"b\": 1}}'))") == "1");
  CHECK(eval("mget('x', '{\"x\": 5}')") == "5");
  CHECK(eval("mget(['a', 'b'], mput(['a', 'b'], 2, json_decode('{\"a\": {\"b\": 1}}')))") == "2");
  CHECK(eval("mget(['a', 'b'], mput(['a', 'b'], 2, json_decode('{\"c\": 1}')))") == "2");
  CHECK(eval("mput('k', 1, map_new())") == R"({"k":1})");
  CHECK(eval_error("map_keys(1)") == "map_keys/1: bad argument");
  CHECK(eval_error("map_put('" + std::string(600, '.') + "', 1, map_new())") ==
        "map_put/3: the result is nested too deep");
}

TEST_CASE("functions: arrays", "[rules][functions]") {
  CHECK(eval("nth(1, [1,2,3])") == "1");
  CHECK(eval("nth(2, [1,2,3,4])") == "2");
  CHECK(eval_error("nth(0, [1,2,3])") == "nth/2: index out of range");
  CHECK(eval_error("nth(4, [1,2,3])") == "nth/2: index out of range");
  CHECK(eval("length([1,2,3,4])") == "4");
  CHECK(eval("length([])") == "0");
  CHECK(eval("sublist(3, [1,2,3,4])") == "[1,2,3]");
  CHECK(eval("sublist(10, [1,2,3,4])") == "[1,2,3,4]");
  CHECK(eval("sublist(1, 2, [1,2,3,4])") == "[1,2]");
  CHECK(eval("sublist(2, 10, [1,2,3,4])") == "[2,3,4]");
  CHECK(eval("sublist(5, 1, [1,2,3,4])") == "[]");
  CHECK(eval_error("sublist(6, 1, [1,2,3,4])") == "sublist/3: bad argument");
  CHECK(eval("first(['John', 'David'])") == R"("John")");
  CHECK(eval("last(['John', 'David'])") == R"("David")");
  CHECK(eval("first([1,2,3,4])") == "1");
  CHECK(eval("last([1,2,3,4])") == "4");
  CHECK(eval_error("first([])") == "first/1: bad argument");
  CHECK(eval_error("last([])") == "last/1: bad argument");
  CHECK(eval("contains(2, [1, 2, 3])") == "true");
  CHECK(eval("contains(2.3, [1.8, 2.5, 2.0])") == "false");
  CHECK(eval("contains('John', ['John', 'David'])") == "true");
  CHECK(eval("contains([1, 2], [a, b, [1, 2]])") == "true");
  CHECK(eval("contains(json_decode('{\"a\": 1}'), [json_decode('{\"a\": 1}'), "
             "json_decode('{\"b\": 2}')])") == "true");
  CHECK(eval("contains(2, [2.0])") == "false");
}

TEST_CASE("functions: hashes and encodings", "[rules][functions]") {
  CHECK(eval("md5('hello')") == R"("5d41402abc4b2a76b9719d911017c592")");
  CHECK(eval("md5('some val')") == R"("1b68352b3e9c2de52ffd322e30bffcc4")");
  CHECK(eval("sha('hello')") == R"("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")");
  CHECK(eval("sha('some val')") == R"("f85ba28ff5ea84a0cbfa118319acb0c5e58ee2b9")");
  CHECK(eval("sha256('hello')") ==
        R"("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824")");
  CHECK(eval("sha256('some val')") ==
        R"("67f97635d8a0e064f60ba6e8846a0ac0be664f18f0c1dc6445cd3542d2b71993")");
  CHECK(eval_error("md5(1)") == "md5/1: bad argument");
  // hash/2 takes crypto's names; the values are those of Python's hashlib.
  CHECK(eval("hash('sha1', 'hello')") == R"("aaf4c61ddcc5e8a2dabede0f3b482cd9aea9434d")");
  CHECK(eval("hash('sha512', 'hello')") ==
        R"("9b71d224bd62f3785d96d46ad3ea3d73319bfbc2890caadae2dff72519673ca72323c3d99ba5c11d)"
        R"(7c7acc6e14b8c5da0c4663475c2e5c3adef46f73bcdec043")");
  CHECK(eval("hash('sha3_256', 'hello')") ==
        R"("3338be694f50c5f338814986cdf0686453a888b84f424d792af4b9202398f392")");
  CHECK(eval("hash('blake2s', 'hello')") ==
        R"("19213bacc58dee6dbde3ceb9a47cbb330b3d86f8cca8997eb00be456f140ca25")");
  CHECK(eval("hash('shake128', 'hello')") == R"("8eb4b6a932f280335ee1a279f8c208a3")");
  CHECK(eval_error("hash('crc32', 'hello')") == "hash/2: unknown hash algorithm");
  CHECK(eval("base64_encode('hello')") == R"("aGVsbG8=")");
  CHECK(eval("base64_encode('some val')") == R"("c29tZSB2YWw=")");
  CHECK(eval("base64_decode('aGVsbG8=')") == R"("hello")");
  CHECK(eval("base64_decode('c29tZSB2YWw=')") == R"("some val")");
  CHECK(eval("bin2hexstr(base64_decode('y0jN'))") == R"("CB48CD")");
  CHECK(eval("base64_encode(hexstr2bin('CB48CD'))") == R"("y0jN")");
  CHECK(eval_error("base64_decode('aGVsbG8')") == "base64_decode/1: bad argument");
  CHECK(eval_error("base64_decode('a*==')") == "base64_decode/1: bad argument");
  CHECK(eval("json_encode(json_decode( '{ \"a\" : 1 }' ))") == R"("{\"a\":1}")");
  CHECK(eval("json_encode([1,2,3])") == R"("[1,2,3]")");
  CHECK(eval("json_encode(json_decode('{\"b\": 1.5, \"a\": [true, null]}'))") ==
        R"("{\"a\":[true,null],\"b\":1.5}")");
  CHECK(eval("map_get('a', json_decode('{\"a\": 1}'))") == "1");
  CHECK(eval("json_decode('3')") == "3");
  CHECK(eval_error("json_decode('{')") == "json_decode/1: not JSON");
  CHECK(eval("bin2hexstr(hexstr2bin('ABEF12'))") == R"("ABEF12")");
  CHECK(eval("bin2hexstr('hello')") == R"("68656C6C6F")");
  CHECK(eval("hexstr2bin('68656c6c6f')") == R"("hello")");
  CHECK(eval_error("hexstr2bin('zz')") == "hexstr2bin/1: bad argument");
}

TEST_CASE("functions: time in Unix units and RFC 3339, in the local zone", "[rules][functions]") {
  TimeZone beijing("CST-8");  // +08:00, as the page's examples
  CHECK(eval("unix_ts_to_rfc3339(1650874276)") == R"("2022-04-25T16:11:16+08:00")");
  CHECK(eval("unix_ts_to_rfc3339(1650874318331, 'millisecond')") ==
        R"("2022-04-25T16:11:58.331+08:00")");
  CHECK(eval("unix_ts_to_rfc3339(1708671600)") == R"("2024-02-23T15:00:00+08:00")");
  CHECK(eval("unix_ts_to_rfc3339(1708671600766, 'millisecond')") ==
        R"("2024-02-23T15:00:00.766+08:00")");
  CHECK(eval("rfc3339_to_unix_ts('2022-04-25T16:11:16+08:00')") == "1650874276");
  CHECK(eval("rfc3339_to_unix_ts('2022-04-25T16:11:58.331+08:00', 'millisecond')") ==
        "1650874318331");
  CHECK(eval("rfc3339_to_unix_ts('2024-02-23T15:56:30Z')") == "1708703790");
  CHECK(eval("rfc3339_to_unix_ts('2024-02-23T15:56:30+08:00')") == "1708674990");
  CHECK(eval("rfc3339_to_unix_ts('2024-02-23T15:56:30.87Z', 'second')") == "1708703790");
  CHECK(eval("rfc3339_to_unix_ts('2024-02-23T15:56:30.87Z', 'millisecond')") == "1708703790870");
  CHECK(eval("rfc3339_to_unix_ts('2024-02-23T15:56:30.87Z', 'microsecond')") == "1708703790870000");
  CHECK(eval("rfc3339_to_unix_ts('2024-02-23T15:56:30.535904509Z', 'nanosecond')") ==
        "1708703790535904509");
  CHECK(eval_error("rfc3339_to_unix_ts('2024-02-30T00:00:00Z')") ==
        "rfc3339_to_unix_ts/1: bad argument");
  CHECK(eval_error("unix_ts_to_rfc3339(1, 'hour')") == "unix_ts_to_rfc3339/2: bad argument");
  {
    TimeZone utc("UTC0");
    CHECK(eval("unix_ts_to_rfc3339(0)") == R"("1970-01-01T00:00:00+00:00")");
    CHECK(eval("unix_ts_to_rfc3339(-1, 'millisecond')") == R"("1969-12-31T23:59:59.999+00:00")");
  }
  // now_*: the clock, in the asked unit.
  const std::int64_t s = std::stoll(eval("now_timestamp()"));
  const std::int64_t ms = std::stoll(eval("now_timestamp('millisecond')"));
  const std::int64_t ns = std::stoll(eval("now_timestamp('nanosecond')"));
  CHECK(s > 1700000000);
  CHECK(ms / 1000 - s <= 1);
  CHECK(ns / 1000000000 - s <= 1);
  const std::regex rfc(R"("\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00")");
  CHECK(std::regex_match(eval("now_rfc3339()"), rfc));
  const std::regex rfc_us(R"("\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+08:00")");
  CHECK(std::regex_match(eval("now_rfc3339('microsecond')"), rfc_us));
  CHECK(eval("rfc3339_to_unix_ts(now_rfc3339()) - now_timestamp() <= 0") == "true");
}

TEST_CASE("functions: dates in EMQX's format strings, and time zone offsets",
          "[rules][functions]") {
  CHECK(eval("format_date('second', '+08:00', '%Y-%m-%d %H:%M:%S%:z', 1678611852)") ==
        R"("2023-03-12 17:04:12+08:00")");
  CHECK(eval("format_date('millisecond', 'Z', '%Y-%m-%dT%H:%M:%S.%3N%z', 1678611852123)") ==
        R"("2023-03-12T09:04:12.123+0000")");
  CHECK(eval("format_date('microsecond', -3600, '%d/%m/%Y %H:%M:%S.%6N %::z', "
             "1678611852123456)") == R"("12/03/2023 08:04:12.123456 -01:00:00")");
  CHECK(eval("format_date('second', '+05:30', '%Y %N %H%M', 0)") == R"("1970 000000000 0530")");
  CHECK(eval("format_date('nanosecond', 'z', '%S.%N', 1000000001)") == R"("01.000000001")");
  CHECK(eval("strlen(format_date('second', 'local', '%Y-%m-%d'))") == "10");  // now
  CHECK(eval_error("format_date('hour', 'Z', '%Y', 0)") == "format_date/4: bad argument");
  CHECK(eval_error("format_date('second', '8', '%Y', 0)") == "format_date/4: bad argument");
  CHECK(eval_error("format_date('second', 86400, '%z', 0)") == "format_date/4: bad argument");
  CHECK(eval_error("format_date('second', -9223372036854775807 - 1, '%z', 9223372036854775807)") ==
        "format_date/4: bad argument");
  CHECK(eval_error("date_to_unix_ts('nanosecond', -86399, '%Y-%m-%d %H:%M:%S.%N', "
                   "'2262-04-11 23:47:16.999999999')") == "date_to_unix_ts/4: bad argument");
  CHECK(eval("date_to_unix_ts('second', '%Y-%m-%d %H:%M:%S%:z', '2023-03-12 17:04:12+08:00')") ==
        "1678611852");
  CHECK(eval("date_to_unix_ts('second', '+08:00', '%Y-%m-%d %H:%M:%S', '2023-03-12 17:04:12')") ==
        "1678611852");
  CHECK(eval("date_to_unix_ts('millisecond', '%Y-%m-%d %H:%M:%S.%3N', "
             "'2023-03-12 09:04:12.123')") == "1678611852123");
  // Text in the format only takes its width of the input (EMQX keeps 4.x's behaviour).
  CHECK(eval("date_to_unix_ts('second', '%Y-%m-%d %H-%M-%S', '2022-05-26 10:40:12')") ==
        "1653561612");
  CHECK(eval("date_to_unix_ts('second', 'Z', '%Y%m%d%H%M%S', format_date('second', 'Z', "
             "'%Y%m%d%H%M%S', 1653561612))") == "1653561612");
  CHECK(eval_error("date_to_unix_ts('second', '%Y-%m-%d', '2023-03-12')") ==
        "date_to_unix_ts/3: missing a part of the date (year to second are required)");
  CHECK(eval_error("date_to_unix_ts('second', '%Y-%m-%d %H:%M:%S', '2023-02-30 00:00:00')") ==
        "date_to_unix_ts/3: bad argument");
  CHECK(eval_error("date_to_unix_ts('second', '%Y-%m-%d %H:%M:%S', '2023-0x-01 00:00:00')") ==
        "date_to_unix_ts/3: bad argument");
  CHECK(eval("timezone_to_second('+08:00')") == "28800");
  CHECK(eval("timezone_to_offset_seconds('-0130')") == "-5400");
  CHECK(eval("timezone_to_second('+01:02:03')") == "3723");
  CHECK(eval("timezone_to_second('Z')") == "0");
  CHECK(eval_error("timezone_to_second('+24:00')") == "timezone_to_second/1: bad argument");
}

TEST_CASE("functions: UUIDs are version 4", "[rules][functions]") {
  const std::regex v4(R"("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")");
  const std::string a = eval("uuid_v4()");
  CHECK(std::regex_match(a, v4));
  CHECK(a != eval("uuid_v4()"));
  CHECK(std::regex_match(eval("uuid_v4_no_hyphen()"), std::regex(R"("[0-9a-f]{32}")")));
}
