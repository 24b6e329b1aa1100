#include "session/rewrite.hpp"

#include <charconv>

#include "broker/topic.hpp"

namespace emqxd::session {

namespace {

void replace_all(std::string& s, std::string_view what, std::string_view with) {
  for (auto at = s.find(what); at != std::string::npos; at = s.find(what, at + with.size())) {
    s.replace(at, what.size(), with);
  }
}

}  // namespace

TopicRewrite::TopicRewrite(const std::vector<config::RewriteRuleConfig>& rules) {
  for (auto it = rules.rbegin(); it != rules.rend(); ++it) {
    std::string error;
    auto re = auth::Regex::compile(it->re, error, true);
    if (!re) throw config::ConfigError("rewrite: re " + it->re + ": " + error);
    Rule r{it->source_topic, std::move(re), it->dest_topic,
           it->dest_topic.find("${") != std::string::npos};
    using A = config::RewriteRuleConfig::Action;
    if (it->action != A::Subscribe) publish_.push_back(r);
    if (it->action != A::Publish) subscribe_.push_back(std::move(r));
  }
}

std::optional<std::string> TopicRewrite::apply(const std::vector<Rule>& rules,
                                               std::string_view topic, std::string_view client_id,
                                               const std::optional<std::string>& username) {
  for (const auto& r : rules) {
    if (!broker::topic_matches(r.source, topic)) continue;
    static thread_local std::vector<std::string> groups;    // reused: no allocation per message
    if (!r.re->search(topic, groups)) return std::nullopt;  // the first match decides
    std::string out = r.dest;
    if (r.placeholders) {
      if (!client_id.empty()) replace_all(out, "${clientid}", client_id);
      if (username && !username->empty()) replace_all(out, "${username}", *username);
    }
    char var[12] = {'$'};
    for (std::size_t i = 0; i < groups.size(); ++i) {
      auto [end, ec] = std::to_chars(var + 1, var + sizeof var, i + 1);
      replace_all(out, std::string_view(var, static_cast<std::size_t>(end - var)), groups[i]);
    }
    return out;
  }
  return std::nullopt;
}

std::optional<std::string> TopicRewrite::publish(std::string_view topic, std::string_view client_id,
                                                 const std::optional<std::string>& username) const {
  return apply(publish_, topic, client_id, username);
}

std::optional<std::string> TopicRewrite::subscribe(
    std::string_view filter, std::string_view client_id,
    const std::optional<std::string>& username) const {
  auto shared = broker::parse_shared(filter);
  if (!shared || !*shared) return apply(subscribe_, filter, client_id, username);
  auto inner = apply(subscribe_, (*shared)->filter, client_id, username);
  if (!inner) return std::nullopt;
  std::string prefix(
      filter.substr(0, static_cast<std::size_t>((*shared)->filter.data() - filter.data())));
  return prefix + *inner;
}

}  // namespace emqxd::session
