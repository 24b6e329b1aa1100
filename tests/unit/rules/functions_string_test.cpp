// String functions, with the values of EMQX's "Built-in SQL Functions" page. SQL strings
// have no escapes, so examples with '\n' in them use unescape(), as the page advises.
#include <catch2/catch.hpp>

#include "rules_test_util.hpp"

namespace {

using emqxd::rules::test::eval;
using emqxd::rules::test::eval_error;

}  // namespace

TEST_CASE("functions: case, trim, reverse, length", "[rules][functions]") {
  CHECK(eval("lower('Hello')") == R"("hello")");
  CHECK(eval("lower('AbC')") == R"("abc")");
  CHECK(eval("upper('hello')") == R"("HELLO")");
  CHECK(eval("upper('AbC')") == R"("ABC")");
  CHECK(eval("upper('é')") == R"("É")");
  CHECK(eval("lower(true)") == R"("true")");  // an atom reads as its name
  // trim('\t  hello  \n') = 'hello'; trim('\t  hello \r\n') = 'hello'
  CHECK(eval(R"(trim(unescape('\t  hello  \n')))") == R"("hello")");
  CHECK(eval(R"(trim(unescape('\t  hello \r\n')))") == R"("hello")");
  CHECK(eval(R"(ltrim(unescape('\t  hello  \n')))") == R"("hello  \n")");
  CHECK(eval(R"(rtrim(unescape('\t  hello  \n')))") == R"("\t  hello")");
  CHECK(eval("trim(' hello  ')") == R"("hello")");
  CHECK(eval("ltrim(' hello  ')") == R"("hello  ")");
  CHECK(eval("rtrim(' hello  ')") == R"(" hello")");
  CHECK(eval("trim('xxhixx', 'x')") == R"("hi")");
  CHECK(eval("reverse('hello')") == R"("olleh")");
  CHECK(eval("reverse('héllo')") == R"("olléh")");
  CHECK(eval("strlen('hello')") == "5");
  CHECK(eval(R"(strlen(unescape('hello\n')))") == "6");
  CHECK(eval("strlen('héllo')") == "5");
  // bytesize('abc') = 3, bytesize('你好') = 6
  CHECK(eval("bytesize('abc')") == "3");
  CHECK(eval("bytesize('你好')") == "6");
  CHECK(eval(R"(strlen(unescape('a\r\nb')))") == "3");  // \r\n is one character
  CHECK(eval_error("lower(1)") == "lower/1: bad argument");
  CHECK(eval_error("upper(payload.none)") == "upper/1: bad argument");
}

TEST_CASE("functions: substr, rm_prefix, pad, ascii", "[rules][functions]") {
  // 0-based: substr('hello', 0) = 'hello', substr('hello world', 6) = 'world'
  CHECK(eval("substr('hello', 0)") == R"("hello")");
  CHECK(eval("substr('hello world', 6)") == R"("world")");
  CHECK(eval("substr('hello world!', 6, 5)") == R"("world")");
  CHECK(eval("substr('abcdef', 2)") == R"("cdef")");
  CHECK(eval("substr('abcdef', 2, 3)") == R"("cde")");
  CHECK(eval("substr('abc', 9)") == R"("")");
  CHECK(eval("int(substr('Number 100', 7))") == "100");
  CHECK(eval_error("substr('abc', -1)") == "substr/2: bad argument");
  CHECK(eval("rm_prefix('foo/bar', 'foo/')") == R"("bar")");
  CHECK(eval("rm_prefix('foo/bar', 'xxx/')") == R"("foo/bar")");
  CHECK(eval("pad('hello', 8)") == R"("hello   ")");
  CHECK(eval("pad('hello', 8, 'leading')") == R"("   hello")");
  CHECK(eval("pad('hello', 8, 'trailing')") == R"("hello   ")");
  CHECK(eval("pad('hello', 8, 'both')") == R"(" hello  ")");
  CHECK(eval("pad('hello', 8, 'trailing', '!')") == R"("hello!!!")");
  CHECK(eval(R"(pad('hello', 8, 'trailing', unescape('\r\n')))") == R"("hello\r\n\r\n\r\n")");
  CHECK(eval("pad('hello', 8, 'trailing', 'abc')") == R"("helloabcabcabc")");
  CHECK(eval("pad('hello', 3)") == R"("hello")");
  CHECK(eval_error("pad('hello', 8, 'middle')") == "pad/3: bad argument");
  CHECK(eval("ascii('a')") == "97");
  CHECK(eval("ascii('abc')") == "97");
  CHECK(eval_error("ascii('')") == "ascii/1: bad argument");
}

TEST_CASE("functions: split and tokens", "[rules][functions]") {
  CHECK(eval("split('a;', ';')") == R"(["a"])");
  CHECK(eval("split('a;b;c', ';')") == R"(["a","b","c"])");
  CHECK(eval("split('a;;b;;c', ';')") == R"(["a","b","c"])");
  CHECK(eval("split('Sienna Blake; Howell Wise', ';')") == R"(["Sienna Blake"," Howell Wise"])");
  CHECK(eval("split('Sienna Blake; Howell Wise', '; ')") == R"(["Sienna Blake","Howell Wise"])");
  CHECK(eval("split('a;;b;;c', ';', 'notrim')") == R"(["a","","b","","c"])");
  CHECK(eval("split('a;b;c', ';', 'leading')") == R"(["a","b;c"])");
  CHECK(eval("split('a;b;c', ';', 'trailing')") == R"(["a;b","c"])");
  CHECK(eval("split(';a;b;c', ';', 'leading_notrim')") == R"(["","a;b;c"])");
  CHECK(eval("split('a;b;c;', ';', 'trailing_notrim')") == R"(["a;b;c",""])");
  CHECK(eval("split('a/b/ c', '/')") == R"(["a","b"," c"])");
  CHECK(eval_error("split('a', ';', 'sideways')") == "split/3: bad argument");
  CHECK(eval("tokens('a,b;c,d', ',;')") == R"(["a","b","c","d"])");
  CHECK(eval("tokens('a;;b', ';')") == R"(["a","b"])");
  // tokens('a\rb\nc\r\nd', ';', 'nocrlf') = ['a', 'b', 'c', 'd']
  CHECK(eval(R"(tokens(unescape('a\rb\nc\r\nd'), ';', 'nocrlf'))") == R"(["a","b","c","d"])");
  CHECK(eval("tokens(clientid, '_')") == R"(["c","emqx"])");
}

TEST_CASE("functions: concat, replace, find, join_to_string", "[rules][functions]") {
  CHECK(eval("concat('Name:', 'John')") == R"("Name:John")");
  CHECK(eval("concat('a', 1)") == R"("a1")");
  CHECK(eval("concat(['a', 1, 2.5, true])") == R"("a12.5true")");
  CHECK(eval("replace('ab..cd..ef', '..', '**')") == R"("ab**cd**ef")");
  CHECK(eval("replace('ab..cd..ef', '..', '')") == R"("abcdef")");
  CHECK(eval("replace('ab..cd..ef', '..', '**', 'all')") == R"("ab**cd**ef")");
  CHECK(eval("replace('ab..cd..ef', '..', '**', 'leading')") == R"("ab**cd..ef")");
  CHECK(eval("replace('ab..cd..ef', '..', '**', 'trailing')") == R"("ab..cd**ef")");
  CHECK(eval("find('..., Value: 1.2', 'Value:')") == R"("Value: 1.2")");
  CHECK(eval("find('..., Value: 1.2', 'Data')") == R"("")");
  CHECK(eval("find('Front, Middle, End', ', ', 'leading')") == R"(", Middle, End")");
  CHECK(eval("find('Front, Middle, End', ', ', 'trailing')") == R"(", End")");
  CHECK(eval("join_to_string(', ', ['a', 'b', 'c'])") == R"("a, b, c")");
  CHECK(eval("join_to_string(['a', 1])") == R"("a, 1")");
  CHECK(eval_error("join_to_string(1)") == "join_to_string/1: bad argument");
}

TEST_CASE("functions: regular expressions are Erlang's re", "[rules][functions]") {
  CHECK(eval(R"(regex_match('123', '^\d+$'))") == "true");
  CHECK(eval(R"(regex_match('a23', '^\d+$'))") == "false");
  CHECK(eval(R"(regex_replace('hello 123', '\d+', 'world'))") == R"("hello world")");
  CHECK(eval(R"(regex_replace('a;b; c', ';\s*', ','))") == R"("a,b,c")");
  CHECK(eval(R"(regex_replace('abc', 'b', '[&]'))") == R"("a[b]c")");
  CHECK(eval(R"(regex_replace('k=v', '(\w)=(\w)', '\2=\1'))") == R"("v=k")");
  CHECK(eval(R"(regex_replace('abc', 'x*', '-'))") == R"("-a-b-c-")");
  CHECK(eval(R"(regex_extract('Number: 12345', '(\d+)'))") == R"(["12345"])");
  CHECK(eval(R"(regex_extract('Hello, world!', '(\w+).*\s(\w+)'))") == R"(["Hello","world"])");
  CHECK(eval(R"(regex_extract('No numbers here!', '(\d+)'))") == "[]");
  CHECK(eval(R"(regex_extract('Date: 2021-05-20', '(\d{4})-(\d{2})-(\d{2})'))") ==
        R"(["2021","05","20"])");
  CHECK(eval_error("regex_match('a', '(')").rfind("regex_match/2: bad regular expression", 0) == 0);
  CHECK(eval_error("regex_match('" + std::string(30, 'a') + "b', '(a+)+$')") ==
        "regex_match/2: the match is too complex");
}

TEST_CASE("functions: sprintf and unescape", "[rules][functions]") {
  // sprintf('hello, ~s!', 'steve') = 'hello, steve!'; sprintf('count: ~p~n', 100)
  CHECK(eval("sprintf('hello, ~s!', 'steve')") == R"("hello, steve!")");
  CHECK(eval("sprintf('count: ~p~n', 100)") == R"("count: 100\n")");
  CHECK(eval("sprintf('~p ~w ~p', 'a', 1.5, json_decode('{\"k\":[1]}'))") ==
        R"("<<\"a\">> 1.5 #{<<\"k\">> => [1]}")");
  CHECK(eval("sprintf('~B~~', 7)") == R"("7~")");
  CHECK(eval_error("sprintf('~s')") == "sprintf/1: too few arguments for the format");
  CHECK(eval_error("sprintf('~s', 1)") == "sprintf/2: bad argument 1 for ~s");
  CHECK(eval_error("sprintf('~10s', 'a')") == "sprintf/2: unsupported control sequence ~1");
  CHECK(eval(R"(unescape('a\tb\x41'))") == R"("a\tbA")");
  CHECK(eval(R"(unescape('\\ \'' \"'))") == R"("\\ ' \"")");
  CHECK(eval(R"(unescape('\x263A'))") == R"("☺")");
  CHECK(eval_error(R"(unescape('\q'))") == R"(unescape/1: unrecognized escape sequence \q)");
  CHECK(eval_error(R"(unescape('\xD800'))") == "unescape/1: invalid unicode character");
  // split(payload, unescape('\n')), the page's example with a device's lines.
  CHECK(eval(R"(split(payload, unescape('\n')))", "32A4\n87.2\nmy-device") ==
        R"(["32A4","87.2","my-device"])");
}
