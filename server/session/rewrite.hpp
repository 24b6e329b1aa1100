#pragma once
// TopicRewrite: EMQX's topic rewrite (rewrite = [...], config/config.hpp). A PUBLISH topic
// (rules with action publish or all) and a SUBSCRIBE or UNSUBSCRIBE filter (subscribe or
// all) are rewritten by the LAST rule, in the order written, whose source_topic matches
// them, as EMQX does (it reads its rules in reverse): if that rule's `re` matches, the
// topic becomes dest_topic with ${clientid} and ${username} filled in (left as written
// when the client has none) and then $1, $2, ... replaced by the captures, in that order;
// if `re` does not match, the topic stays as it is and no other rule is tried. A shared
// filter ($share/<group>/<filter>, $queue/<filter>) has only its <filter> rewritten.
// Authorization has already been asked about the topic as the client wrote it.
//
// Immutable once built; any thread.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/regex.hpp"
#include "config/config.hpp"

namespace emqxd::session {

class TopicRewrite {
 public:
  // The rules were checked when the config was loaded; one whose `re` still does not
  // compile throws config::ConfigError.
  explicit TopicRewrite(const std::vector<config::RewriteRuleConfig>& rules);

  bool rewrites_publish() const { return !publish_.empty(); }
  bool rewrites_subscribe() const { return !subscribe_.empty(); }

  // The new topic, or nullopt when it stays as it is.
  std::optional<std::string> publish(std::string_view topic, std::string_view client_id,
                                     const std::optional<std::string>& username) const;
  std::optional<std::string> subscribe(std::string_view filter, std::string_view client_id,
                                       const std::optional<std::string>& username) const;

 private:
  struct Rule {
    std::string source;
    std::shared_ptr<auth::Regex> re;
    std::string dest;
    bool placeholders = false;  // dest has "${"
  };
  static std::optional<std::string> apply(const std::vector<Rule>& rules, std::string_view topic,
                                          std::string_view client_id,
                                          const std::optional<std::string>& username);
  std::vector<Rule> publish_;    // last rule first
  std::vector<Rule> subscribe_;  // last rule first
};

}  // namespace emqxd::session
