#pragma once
// Values while a rule runs, and the Erlang semantics EMQX gives them.
//
// EMQX evaluates rule SQL over Erlang terms; we evaluate over JSON values, mapped as EMQX's
// JSON codec maps them: integer and float are Erlang's integer and float, a string is a
// binary, an array a list, an object a map, true/false/null the atoms. EMQX's `undefined`
// (a missing field, a CASE without a match) is the empty optional. Integers are 64-bit
// (Erlang's are unbounded): arithmetic that leaves int64 goes to float, functions that
// would need a bignum fail.
//
// Equality, order and the conversion to text follow Erlang (==, =:=, term order, EMQX's
// emqx_utils_conv:bin) because rules written for EMQX depend on them: `1 = 1.0` is true,
// `1 IN (1.0)` is false, str(0.1 + 0.2) is '0.3'.
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace emqxd::rules {

using Value = std::optional<boost::json::value>;

// What one JSON node (a value, an element, a member) costs in a Budget's bytes: its
// memory and, above all, the allocator's and the copies' time, so that a rule copying
// many small values stops long before one copying a few large strings would.
inline constexpr std::size_t kNodeCost = 256;

// Limits on one run of a rule, so that no input makes it take unbounded time or memory.
struct Budget {
  std::size_t steps = 1'000'000;         // expression nodes evaluated
  std::size_t bytes = 64 * 1024 * 1024;  // strings and arrays made by operators and functions
};

bool is_integer(const boost::json::value& v);
// An integer that fits int64 (JSON decodes large positive integers to uint64).
std::optional<std::int64_t> as_int(const boost::json::value& v);
std::optional<double> as_double(const boost::json::value& v);  // any number
inline bool is_number(const boost::json::value& v) {
  return v.is_number();
}

bool loose_equal(const Value& a, const Value& b);                            // Erlang ==
bool exact_equal(const Value& a, const Value& b);                            // Erlang =:=
bool exact_equal(const boost::json::value* a, const boost::json::value* b);  // nullptr: undefined
// Erlang's term order: number < atom < map < list < binary; <0, 0 or >0.
int term_compare(const Value& a, const Value& b);

// EMQX's conversion of anything to a string (emqx_utils_conv:bin): strings as they are,
// integers in decimal, floats with at most 10 decimals and no trailing zeros, atoms by
// name (undefined is "undefined"), maps and non-text lists as JSON.
std::string to_text(const Value& v);
void append_text(const Value& v, std::string& out);
void append_text(const boost::json::value& v, std::string& out);

// Erlang's float_to_binary(F, [{decimals, D}] ++ [compact || compact]): fixed notation
// with D decimals (correctly rounded only when that is cheap, as Erlang does).
std::string float_text(double f, int decimals, bool compact);

// JSON as EMQX's encoder writes it: object keys sorted, floats shortest, undefined as the
// string "undefined".
std::string json_encode(const Value& v);
void append_json(const boost::json::value& v, std::string& out);
// Any JSON text; nullopt when it is not JSON or nests deeper than kMaxJsonDepth.
inline constexpr int kMaxJsonDepth = 64;
std::optional<boost::json::value> json_decode(std::string_view text);

// Values deeper than this are refused where a rule builds them (aliases, map_put, mput):
// everything that walks a value recurses, and must not run out of stack.
inline constexpr std::size_t kMaxValueDepth = 256;
// The nesting depth of `v` (a scalar is 1), counted no further than `limit` + 1.
std::size_t depth(const boost::json::value& v, std::size_t limit = kMaxValueDepth);

// Erlang's binary_to_integer, else binary_to_float ("1.5", "-2.0e3"; not "1e3", not ".5").
std::optional<boost::json::value> parse_erlang_number(std::string_view text);

// For messages: integer, float, string, boolean, null, array, object, undefined.
std::string_view type_name(const Value& v);

}  // namespace emqxd::rules
