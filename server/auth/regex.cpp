#include "auth/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fmt/format.h>
#include <pcre2.h>

#include <memory>

namespace emqxd::auth {

namespace {
pcre2_match_context* context() {
  static pcre2_match_context* ctx = [] {
    pcre2_match_context* c = pcre2_match_context_create(nullptr);
    pcre2_set_match_limit(c, 100'000);
    pcre2_set_depth_limit(c, 10'000);
    return c;
  }();
  return ctx;
}

struct MatchDataFree {
  void operator()(pcre2_match_data* md) const { pcre2_match_data_free(md); }
};

// Room for 63 groups, reused by every search of this thread: no allocation per message.
constexpr std::uint32_t kPairs = 64;
pcre2_match_data* shared_match_data() {
  static thread_local std::unique_ptr<pcre2_match_data, MatchDataFree> md(
      pcre2_match_data_create(kPairs, nullptr));
  return md.get();
}

}  // namespace

std::shared_ptr<Regex> Regex::compile(std::string_view pattern, std::string& error, bool jit) {
  int code = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* re = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0,
                                 &code, &offset, nullptr);
  if (re == nullptr) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(code, buf, sizeof buf);
    error = fmt::format("{} at offset {}", reinterpret_cast<const char*>(buf), offset);
    return nullptr;
  }
  // Compiled to machine code when asked and available; matching is the same (a subject
  // past the JIT's stack does not match, as one past the match limit).
  if (jit) (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
  return std::shared_ptr<Regex>(new Regex(re));
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

bool Regex::search(std::string_view subject, std::vector<std::string>& groups) const {
  auto* code = static_cast<pcre2_code*>(code_);
  std::uint32_t count = 0;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
  std::unique_ptr<pcre2_match_data, MatchDataFree> own;
  pcre2_match_data* md = shared_match_data();
  if (count >= kPairs || md == nullptr) {
    own.reset(pcre2_match_data_create_from_pattern(code, nullptr));
    md = own.get();
  }
  if (md == nullptr) return false;
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md,
                       context());
  if (rc >= 0) {
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
    groups.clear();
    for (std::uint32_t i = 1; i <= count; ++i) {
      if (i < static_cast<std::uint32_t>(rc == 0 ? pcre2_get_ovector_count(md) : rc) &&
          ov[2 * i] != PCRE2_UNSET) {
        groups.emplace_back(subject.substr(ov[2 * i], ov[2 * i + 1] - ov[2 * i]));
      } else {
        groups.emplace_back();
      }
    }
  }
  return rc >= 0;
}

bool Regex::search(std::string_view subject) const {
  auto* code = static_cast<pcre2_code*>(code_);
  pcre2_match_data* md = pcre2_match_data_create_from_pattern(code, nullptr);
  if (md == nullptr) return false;
  int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), 0, 0, md,
                       context());
  pcre2_match_data_free(md);
  return rc >= 0;
}

}  // namespace emqxd::auth
