#include "rules/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <fmt/format.h>
#include <pcre2.h>

#include <algorithm>
#include <memory>
#include <unordered_map>

namespace emqxd::rules::detail {

namespace {

struct CodeFree {
  void operator()(pcre2_code* c) const { pcre2_code_free(c); }
};
struct DataFree {
  void operator()(pcre2_match_data* d) const { pcre2_match_data_free(d); }
};
using Code = std::unique_ptr<pcre2_code, CodeFree>;
using Data = std::unique_ptr<pcre2_match_data, DataFree>;

constexpr std::size_t kCacheSize = 32;

// This thread's match context, its match limit set for the call at hand.
pcre2_match_context* limits(std::uint32_t match_limit) {
  struct ContextFree {
    void operator()(pcre2_match_context* c) const { pcre2_match_context_free(c); }
  };
  thread_local std::unique_ptr<pcre2_match_context, ContextFree> ctx(
      pcre2_match_context_create(nullptr));
  pcre2_set_match_limit(ctx.get(), match_limit);
  pcre2_set_depth_limit(ctx.get(), 10'000);
  return ctx.get();
}

// The compiled pattern, from this thread's cache; nullptr and `r` set when it does not
// compile.
pcre2_code* compiled(std::string_view pattern, RegexResult& r) {
  thread_local std::unordered_map<std::string, Code> cache;
  if (auto it = cache.find(std::string(pattern)); it != cache.end()) return it->second.get();
  int code = 0;
  PCRE2_SIZE offset = 0;
  Code re(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), 0, &code,
                        &offset, nullptr));
  if (!re) {
    PCRE2_UCHAR buf[256];
    pcre2_get_error_message(code, buf, sizeof buf);
    r.status = RegexStatus::BadPattern;
    r.error = fmt::format("{} at offset {}", reinterpret_cast<const char*>(buf), offset);
    return nullptr;
  }
  if (cache.size() >= kCacheSize) cache.clear();
  return cache.emplace(std::string(pattern), std::move(re)).first->second.get();
}

// pcre2_match, with PCRE2_ERROR_NOMATCH as 0 and other errors as TooComplex.
int match(pcre2_code* re, std::string_view s, std::size_t at, std::uint32_t opts,
          pcre2_match_data* md, RegexResult& r) {
  int rc = pcre2_match(re, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), at, opts, md,
                       limits(match_limit(s)));
  if (rc == PCRE2_ERROR_NOMATCH) return 0;
  if (rc < 0) {
    r.status = RegexStatus::TooComplex;
    r.error = "the match is too complex";
    return -1;
  }
  return rc == 0 ? static_cast<int>(pcre2_get_ovector_count(md)) : rc;
}

std::string_view group(std::string_view s, const PCRE2_SIZE* ov, int count, int n) {
  if (n >= count || ov[2 * n] == PCRE2_UNSET) return {};
  return s.substr(ov[2 * n], ov[2 * n + 1] - ov[2 * n]);
}

void expand(std::string_view rep, std::string_view s, const PCRE2_SIZE* ov, int count,
            std::string& out) {
  for (std::size_t i = 0; i < rep.size(); ++i) {
    const char c = rep[i];
    if (c == '&') {
      out.append(group(s, ov, count, 0));
      continue;
    }
    if (c != '\\' || i + 1 == rep.size()) {
      out.push_back(c);
      continue;
    }
    std::size_t j = i + 1;
    bool braces = false;
    if (rep[j] == 'g') {
      ++j;
      if (j < rep.size() && rep[j] == '{') {
        braces = true;
        ++j;
      }
    }
    std::size_t digits = j;
    int n = 0;
    while (j < rep.size() && rep[j] >= '0' && rep[j] <= '9' && n < 100000) {
      n = n * 10 + (rep[j] - '0');
      ++j;
    }
    if (j > digits && (!braces || (j < rep.size() && rep[j] == '}'))) {
      out.append(group(s, ov, count, n));
      i = braces ? j : j - 1;
      continue;
    }
    out.push_back(rep[i + 1]);  // \& \\ and any other escaped character: itself
    ++i;
  }
}

}  // namespace

std::uint32_t match_limit(std::string_view subject) {
  return static_cast<std::uint32_t>(std::min<std::size_t>(50'000 + 8 * subject.size(), 10'000'000));
}

RegexResult regex_match(std::string_view pattern, std::string_view subject, bool& matched) {
  RegexResult r;
  pcre2_code* re = compiled(pattern, r);
  if (re == nullptr) return r;
  Data md(pcre2_match_data_create_from_pattern(re, nullptr));
  matched = match(re, subject, 0, 0, md.get(), r) > 0;
  return r;
}

RegexResult regex_extract(std::string_view pattern, std::string_view subject,
                          std::vector<std::string>& groups) {
  RegexResult r;
  groups.clear();
  pcre2_code* re = compiled(pattern, r);
  if (re == nullptr) return r;
  Data md(pcre2_match_data_create_from_pattern(re, nullptr));
  if (match(re, subject, 0, 0, md.get(), r) <= 0) return r;
  std::uint32_t n = 0;
  pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &n);
  const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
  const int count = static_cast<int>(pcre2_get_ovector_count(md.get()));
  for (std::uint32_t i = 1; i <= n; ++i)
    groups.emplace_back(group(subject, ov, count, static_cast<int>(i)));
  return r;
}

RegexResult regex_replace(std::string_view pattern, std::string_view subject,
                          std::string_view replacement, std::size_t max_bytes, std::string& out) {
  RegexResult r;
  out.clear();
  pcre2_code* re = compiled(pattern, r);
  if (re == nullptr) return r;
  Data md(pcre2_match_data_create_from_pattern(re, nullptr));
  std::size_t at = 0;      // where the next search starts
  std::size_t copied = 0;  // subject[0, copied) is in `out`
  std::uint32_t opts = 0;
  while (at <= subject.size()) {
    const int rc = match(re, subject, at, opts, md.get(), r);
    if (rc < 0) return r;
    if (rc == 0) {
      if (opts == 0) break;
      // No non-empty match where the empty one was: step over one byte.
      opts = 0;
      ++at;
      continue;
    }
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md.get());
    out.append(subject.substr(copied, ov[0] - copied));
    expand(replacement, subject, ov, rc, out);
    if (out.size() > max_bytes) {
      r.status = RegexStatus::TooLarge;
      r.error = "the result is too large";
      return r;
    }
    copied = ov[1];
    at = ov[1];
    // After an empty match, the next one must not be empty at the same place.
    opts = ov[0] == ov[1] ? PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED : 0;
  }
  out.append(subject.substr(std::min(copied, subject.size())));
  return r;
}

}  // namespace emqxd::rules::detail
