// The registry of built-in functions: one table, in EMQX's groups. Arity ranges cover
// every arity EMQX exports (substr/2 and substr/3 are one entry).
#include "rules/functions.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace emqxd::rules {

namespace {

// Several entries a line keep the table on a screen; clang-format would put one a line.
// clang-format off
constexpr Builtin kBuiltins[] = {
    // Mathematical
    {"abs", 1, 1, fn::abs_},        {"acos", 1, 1, fn::acos_},      {"acosh", 1, 1, fn::acosh_},
    {"asin", 1, 1, fn::asin_},      {"asinh", 1, 1, fn::asinh_},    {"atan", 1, 1, fn::atan_},
    {"atanh", 1, 1, fn::atanh_},    {"ceil", 1, 1, fn::ceil_},      {"cos", 1, 1, fn::cos_},
    {"cosh", 1, 1, fn::cosh_},      {"exp", 1, 1, fn::exp_},        {"floor", 1, 1, fn::floor_},
    {"fmod", 2, 2, fn::fmod_},      {"log", 1, 1, fn::log_},        {"log10", 1, 1, fn::log10_},
    {"log2", 1, 1, fn::log2_},      {"power", 2, 2, fn::power_},    {"random", 0, 0, fn::random_},
    {"round", 1, 1, fn::round_},    {"sin", 1, 1, fn::sin_},        {"sinh", 1, 1, fn::sinh_},
    {"sqrt", 1, 1, fn::sqrt_},      {"tan", 1, 1, fn::tan_},        {"tanh", 1, 1, fn::tanh_},
    // Bitwise
    {"bitnot", 1, 1, fn::bitnot_},  {"bitand", 2, 2, fn::bitand_},  {"bitor", 2, 2, fn::bitor_},
    {"bitxor", 2, 2, fn::bitxor_},  {"bitsl", 2, 2, fn::bitsl_},    {"bitsr", 2, 2, fn::bitsr_},
    // Type conversion
    {"str", 1, 1, fn::str_},        {"str_utf8", 1, 1, fn::str_utf8_}, {"bool", 1, 1, fn::bool_},
    {"int", 1, 1, fn::int_},        {"float", 1, 2, fn::float_},    {"float2str", 2, 2, fn::float2str_},
    {"map", 1, 1, fn::map_},
    // Type checks
    {"is_null", 1, 1, fn::is_null_},          {"is_not_null", 1, 1, fn::is_not_null_},
    {"is_null_var", 1, 1, fn::is_null_var_},  {"is_not_null_var", 1, 1, fn::is_not_null_var_},
    {"is_str", 1, 1, fn::is_str_},            {"is_bool", 1, 1, fn::is_bool_},
    {"is_int", 1, 1, fn::is_int_},            {"is_float", 1, 1, fn::is_float_},
    {"is_num", 1, 1, fn::is_num_},            {"is_map", 1, 1, fn::is_map_},
    {"is_array", 1, 1, fn::is_array_},        {"null", 0, 0, fn::null_},
    // Strings
    {"lower", 1, 1, fn::lower_},    {"upper", 1, 1, fn::upper_},    {"trim", 1, 2, fn::trim_},
    {"ltrim", 1, 2, fn::ltrim_},    {"rtrim", 1, 2, fn::rtrim_},    {"reverse", 1, 1, fn::reverse_},
    {"strlen", 1, 1, fn::strlen_},  {"substr", 2, 3, fn::substr_},  {"rm_prefix", 2, 2, fn::rm_prefix_},
    {"pad", 2, 4, fn::pad_},        {"ascii", 1, 1, fn::ascii_},    {"unescape", 1, 1, fn::unescape_},
    {"bytesize", 1, 1, fn::bytesize_},
    {"split", 2, 3, fn::split_},    {"tokens", 2, 3, fn::tokens_},  {"concat", 1, 2, fn::concat_},
    {"replace", 3, 4, fn::replace_}, {"find", 2, 3, fn::find_},
    {"join_to_string", 1, 2, fn::join_to_string_},
    {"sprintf", 1, -1, fn::sprintf_},
    {"regex_match", 2, 2, fn::regex_match_},  {"regex_replace", 3, 3, fn::regex_replace_},
    {"regex_extract", 2, 2, fn::regex_extract_},
    // Maps
    {"map_new", 0, 0, fn::map_new_},  {"map_get", 2, 3, fn::map_get_},  {"map_put", 3, 3, fn::map_put_},
    {"mget", 2, 3, fn::mget_},        {"mput", 3, 3, fn::mput_},        {"map_keys", 1, 1, fn::map_keys_},
    {"map_values", 1, 1, fn::map_values_},  {"map_to_entries", 1, 1, fn::map_to_entries_},
    // Arrays
    {"nth", 2, 2, fn::nth_},        {"length", 1, 1, fn::length_},  {"sublist", 2, 3, fn::sublist_},
    {"first", 1, 1, fn::first_},    {"last", 1, 1, fn::last_},      {"contains", 2, 2, fn::contains_},
    // Hashing
    {"md5", 1, 1, fn::md5_},        {"sha", 1, 1, fn::sha_},        {"sha256", 1, 1, fn::sha256_},
    {"hash", 2, 2, fn::hash_},
    // Encoding
    {"base64_encode", 1, 1, fn::base64_encode_},  {"base64_decode", 1, 1, fn::base64_decode_},
    {"json_encode", 1, 1, fn::json_encode_},      {"json_decode", 1, 1, fn::json_decode_},
    {"bin2hexstr", 1, 1, fn::bin2hexstr_},        {"hexstr2bin", 1, 1, fn::hexstr2bin_},
    // Time
    {"now_timestamp", 0, 1, fn::now_timestamp_},  {"now_rfc3339", 0, 1, fn::now_rfc3339_},
    {"unix_ts_to_rfc3339", 1, 2, fn::unix_ts_to_rfc3339_},
    {"rfc3339_to_unix_ts", 1, 2, fn::rfc3339_to_unix_ts_},
    {"format_date", 3, 4, fn::format_date_},      {"date_to_unix_ts", 3, 4, fn::date_to_unix_ts_},
    {"timezone_to_second", 1, 1, fn::timezone_to_offset_seconds_},
    {"timezone_to_offset_seconds", 1, 1, fn::timezone_to_offset_seconds_},
    // UUID
    {"uuid_v4", 0, 0, fn::uuid_v4_},  {"uuid_v4_no_hyphen", 0, 0, fn::uuid_v4_no_hyphen_},
};
// clang-format on

}  // namespace

const Builtin* find_builtin(std::string_view name) {
  for (const Builtin& b : kBuiltins) {
    if (b.name == name) return &b;
  }
  return nullptr;
}

bool Call::badarg() {
  error_ = fmt::format("{}/{}: bad argument", fn_.name, args_.size());
  return false;
}

bool Call::fail(std::string_view reason) {
  error_ = fmt::format("{}/{}: {}", fn_.name, args_.size(), reason);
  return false;
}

bool Call::text_out(Value& out, std::string s) {
  if (!charge(s.size())) return false;
  out = boost::json::value(boost::json::string(std::move(s)));
  return true;
}

bool Call::charge(std::size_t bytes) {
  if (bytes > budget_.bytes) {
    error_ = fmt::format("{}/{}: the rule's memory budget is spent", fn_.name, args_.size());
    budget_.bytes = 0;
    return false;
  }
  budget_.bytes -= bytes;
  return true;
}

const boost::json::string* Call::str(std::size_t i) const {
  return args_[i] && args_[i]->is_string() ? &args_[i]->get_string() : nullptr;
}

const boost::json::array* Call::array(std::size_t i) const {
  return args_[i] && args_[i]->is_array() ? &args_[i]->get_array() : nullptr;
}

const boost::json::object* Call::object(std::size_t i) const {
  return args_[i] && args_[i]->is_object() ? &args_[i]->get_object() : nullptr;
}

std::optional<std::int64_t> Call::integer(std::size_t i) const {
  return args_[i] ? as_int(*args_[i]) : std::nullopt;
}

std::optional<double> Call::number(std::size_t i) const {
  return args_[i] ? as_double(*args_[i]) : std::nullopt;
}

std::optional<std::string_view> Call::text(std::size_t i) const {
  if (!args_[i]) return std::nullopt;
  if (args_[i]->is_string()) return std::string_view(args_[i]->get_string());
  if (args_[i]->is_bool()) return args_[i]->get_bool() ? "true" : "false";
  return std::nullopt;
}

}  // namespace emqxd::rules
