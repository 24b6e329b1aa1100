#pragma once
// The built-in functions of rule SQL, with EMQX's names and semantics (emqx_rule_funcs.erl
// and emqx_variform_bif.erl, the examples of EMQX's "Built-in SQL Functions" page). The
// registry is one table (functions.cpp); the implementations are grouped by kind in
// fn_*.cpp.
//
// A call with the wrong number of arguments or an argument of a type the function does
// not take fails the evaluation with a message naming the function, as EMQX fails the
// rule (its metric `failed.exception`). Functions allocate against the run's Budget.
#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "rules/value.hpp"

namespace emqxd::rules {

class Call;
using BuiltinFn = bool (*)(Call& call, Value& out);

struct Builtin {
  std::string_view name;
  int min_args;
  int max_args;  // -1: any number
  BuiltinFn fn;
};

// The function named `name` (lower case), or nullptr.
const Builtin* find_builtin(std::string_view name);

// One call of a builtin: its arguments, and the way it reports failure.
class Call {
 public:
  Call(const Builtin& fn, std::span<const Value> args, Budget& budget, std::string& error)
      : fn_(fn), args_(args), budget_(budget), error_(error) {}

  std::size_t size() const { return args_.size(); }
  const Value& operator[](std::size_t i) const { return args_[i]; }
  std::span<const Value> args() const { return args_; }

  // Set the error ("lower/1: bad argument", "nth/2: index 4 out of range") and return
  // false, so that a function can `return call.badarg();`.
  bool badarg();
  bool fail(std::string_view reason);
  // Takes `bytes` from the run's budget; false (the error set) when it is spent.
  bool charge(std::size_t bytes);
  std::size_t budget_left() const { return budget_.bytes; }

  // Argument accessors: nullptr when argument `i` is not of that type.
  const boost::json::string* str(std::size_t i) const;
  const boost::json::array* array(std::size_t i) const;
  const boost::json::object* object(std::size_t i) const;
  std::optional<std::int64_t> integer(std::size_t i) const;
  std::optional<double> number(std::size_t i) const;
  // EMQX's string functions take atoms as their names: a string, or true/false.
  std::optional<std::string_view> text(std::size_t i) const;

  // `out` = the string `s`, charged to the budget; false (the error set) when it is spent.
  bool text_out(Value& out, std::string s);

 private:
  const Builtin& fn_;
  std::span<const Value> args_;
  Budget& budget_;
  std::string& error_;
};

// Implementations, by kind (fn_*.cpp); the table in functions.cpp lists them.
namespace fn {
#define EMQXD_RULES_FN(name) bool name(Call& call, Value& out)
// fn_math.cpp
EMQXD_RULES_FN(abs_);
EMQXD_RULES_FN(acos_);
EMQXD_RULES_FN(acosh_);
EMQXD_RULES_FN(asin_);
EMQXD_RULES_FN(asinh_);
EMQXD_RULES_FN(atan_);
EMQXD_RULES_FN(atanh_);
EMQXD_RULES_FN(ceil_);
EMQXD_RULES_FN(cos_);
EMQXD_RULES_FN(cosh_);
EMQXD_RULES_FN(exp_);
EMQXD_RULES_FN(floor_);
EMQXD_RULES_FN(fmod_);
EMQXD_RULES_FN(log_);
EMQXD_RULES_FN(log10_);
EMQXD_RULES_FN(log2_);
EMQXD_RULES_FN(power_);
EMQXD_RULES_FN(random_);
EMQXD_RULES_FN(round_);
EMQXD_RULES_FN(sin_);
EMQXD_RULES_FN(sinh_);
EMQXD_RULES_FN(sqrt_);
EMQXD_RULES_FN(tan_);
EMQXD_RULES_FN(tanh_);
EMQXD_RULES_FN(bitnot_);
EMQXD_RULES_FN(bitand_);
EMQXD_RULES_FN(bitor_);
EMQXD_RULES_FN(bitxor_);
EMQXD_RULES_FN(bitsl_);
EMQXD_RULES_FN(bitsr_);
// fn_convert.cpp
EMQXD_RULES_FN(str_);
EMQXD_RULES_FN(str_utf8_);
EMQXD_RULES_FN(bool_);
EMQXD_RULES_FN(int_);
EMQXD_RULES_FN(float_);
EMQXD_RULES_FN(float2str_);
EMQXD_RULES_FN(map_);
EMQXD_RULES_FN(is_null_);
EMQXD_RULES_FN(is_not_null_);
EMQXD_RULES_FN(is_null_var_);
EMQXD_RULES_FN(is_not_null_var_);
EMQXD_RULES_FN(is_str_);
EMQXD_RULES_FN(is_bool_);
EMQXD_RULES_FN(is_int_);
EMQXD_RULES_FN(is_float_);
EMQXD_RULES_FN(is_num_);
EMQXD_RULES_FN(is_map_);
EMQXD_RULES_FN(is_array_);
EMQXD_RULES_FN(null_);
// fn_string.cpp
EMQXD_RULES_FN(lower_);
EMQXD_RULES_FN(upper_);
EMQXD_RULES_FN(trim_);
EMQXD_RULES_FN(ltrim_);
EMQXD_RULES_FN(rtrim_);
EMQXD_RULES_FN(reverse_);
EMQXD_RULES_FN(strlen_);
EMQXD_RULES_FN(substr_);
EMQXD_RULES_FN(rm_prefix_);
EMQXD_RULES_FN(pad_);
EMQXD_RULES_FN(ascii_);
EMQXD_RULES_FN(bytesize_);
EMQXD_RULES_FN(unescape_);
// fn_search.cpp
EMQXD_RULES_FN(split_);
EMQXD_RULES_FN(tokens_);
EMQXD_RULES_FN(concat_);
EMQXD_RULES_FN(replace_);
EMQXD_RULES_FN(find_);
EMQXD_RULES_FN(join_to_string_);
EMQXD_RULES_FN(sprintf_);
EMQXD_RULES_FN(regex_match_);
EMQXD_RULES_FN(regex_replace_);
EMQXD_RULES_FN(regex_extract_);
// fn_collections.cpp
EMQXD_RULES_FN(map_new_);
EMQXD_RULES_FN(map_get_);
EMQXD_RULES_FN(map_put_);
EMQXD_RULES_FN(mget_);
EMQXD_RULES_FN(mput_);
EMQXD_RULES_FN(map_keys_);
EMQXD_RULES_FN(map_values_);
EMQXD_RULES_FN(map_to_entries_);
EMQXD_RULES_FN(nth_);
EMQXD_RULES_FN(length_);
EMQXD_RULES_FN(sublist_);
EMQXD_RULES_FN(first_);
EMQXD_RULES_FN(last_);
EMQXD_RULES_FN(contains_);
// fn_codec.cpp
EMQXD_RULES_FN(md5_);
EMQXD_RULES_FN(sha_);
EMQXD_RULES_FN(sha256_);
EMQXD_RULES_FN(hash_);
EMQXD_RULES_FN(base64_encode_);
EMQXD_RULES_FN(base64_decode_);
EMQXD_RULES_FN(json_encode_);
EMQXD_RULES_FN(json_decode_);
EMQXD_RULES_FN(bin2hexstr_);
EMQXD_RULES_FN(hexstr2bin_);
EMQXD_RULES_FN(uuid_v4_);
EMQXD_RULES_FN(uuid_v4_no_hyphen_);
// fn_time.cpp
EMQXD_RULES_FN(now_timestamp_);
EMQXD_RULES_FN(now_rfc3339_);
EMQXD_RULES_FN(unix_ts_to_rfc3339_);
EMQXD_RULES_FN(rfc3339_to_unix_ts_);
EMQXD_RULES_FN(format_date_);
EMQXD_RULES_FN(date_to_unix_ts_);
EMQXD_RULES_FN(timezone_to_offset_seconds_);
#undef EMQXD_RULES_FN
}  // namespace fn

}  // namespace emqxd::rules
