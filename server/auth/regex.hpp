#pragma once
// Regex: a PCRE2 pattern compiled once, searched as Erlang's re:run does (unanchored), as
// EMQX matches its {re, ...} rules and regex bans. A subject that makes the pattern
// backtrack past the match limit does not match: a hostile pattern or subject costs
// bounded time. Immutable; any thread.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace emqxd::auth {

class Regex {
 public:
  // nullptr and `error` set when the pattern does not compile. `jit`: compiled to machine
  // code too, for patterns run on every message (topic rewrite).
  static std::shared_ptr<Regex> compile(std::string_view pattern, std::string& error,
                                        bool jit = false);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  bool search(std::string_view subject) const;
  // As search(); on a match `groups` gets the capture groups 1..N (Erlang's
  // {capture, all_but_first, binary}: a group that took no part is empty).
  bool search(std::string_view subject, std::vector<std::string>& groups) const;

 private:
  explicit Regex(void* code) : code_(code) {}
  void* code_;  // pcre2_code
};

}  // namespace emqxd::auth
