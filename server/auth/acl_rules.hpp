#pragma once
// EMQX's file authorization rules (acl.conf, `authorization.sources = [{type = file}]`):
// compiled once from the file's Erlang terms (auth/erl_term.hpp), then matched against a
// client's publish or subscribe. The grammar, as EMQX 5 documents it in its default
// acl.conf:
//
//   rule   := {Perm, Who, Action, [Topic...]} | {Perm, all}        Perm := allow | deny
//   Who    := all | {username|user, Str | {re, Regex}} | {clientid|client, Str | {re, Regex}}
//           | {ipaddr, Cidr} | {ipaddrs, [Cidr...]} | {'and', [Who...]} | {'or', [Who...]}
//   Action := publish | subscribe | all
//           | {publish|subscribe|all, [{qos, 0..2 | [0..2...]}, {retain, true|false|all}]}
//   Topic  := Str | {eq, Str} | "eq " ++ Str    (Str may hold ${username}, ${clientid},
//                                                 ${cn}, ${client_attrs.NAME})
//
// Matching is EMQX's: the first rule whose action, client and one of whose topics match
// decides; none matching is nomatch (the chain goes on, then `authorization.no_match`).
// A topic matches a rule's filter word by word with '+' and '#' ('#' also matches the
// parent level); a subscription's own wildcards match only the same wildcard or a wider
// one ("a/+" is within "a/#", "#" only within "#"). As in MQTT delivery and EMQX's
// emqx_topic:match, a '$' topic is not matched by a filter that starts with '+' or '#':
// "#" does not cover "$SYS/x", "$SYS/#" does. `{eq, T}` matches the string T exactly.
// `{Perm, all}` is `{Perm, all, all, ["#"]}`, so it says nothing of '$' topics.
//
// Where emqxd differs, on purpose: a placeholder whose value is missing (no username) or
// holds '+', '#' or '/' makes its filter match nothing (EMQX would render the wildcard).
// Regular expressions are PCRE2, as Erlang's `re` is PCRE, searched unanchored over the
// bytes of the value.
//
// Compiled rules are immutable: any thread may match against them at once.
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/erl_term.hpp"

namespace boost::json {
class value;
}

namespace emqxd::auth {

enum class Permission { Allow, Deny };

// An IPv4 or IPv6 address as 16 bytes (IPv4 as ::ffff:a.b.c.d, so that a client connected
// over a dual-stack socket matches an IPv4 rule).
struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  // "10.0.0.1", "::1", "::ffff:10.0.0.1"; nullopt for anything else.
  static std::optional<IpAddress> parse(std::string_view text);
};

struct Cidr {
  IpAddress base;
  int prefix = 128;  // over the 16-byte form: an IPv4 /8 is 96 + 8
  // "10.0.0.0/8", "127.0.0.1" (one address), "fe80::/10"; nullopt when malformed.
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& a) const;
};

// What a rule is matched against: who is asking.
struct AclClient {
  std::string_view client_id;
  std::optional<std::string_view> username;
  std::optional<IpAddress> peer;
  std::optional<std::string_view> cert_common_name;
  const std::map<std::string, std::string, std::less<>>* attrs = nullptr;  // client_attrs
};

enum class AclActionType { Publish, Subscribe };

// What it asks: publish with the message's QoS and RETAIN, or subscribe with the
// subscription's maximum QoS.
struct AclAction {
  AclActionType type = AclActionType::Publish;
  int qos = 0;
  bool retain = false;
};

class Regex;  // PCRE2, compiled once

class AclRules {
 public:
  // Compiles the rules of acl.conf text. Throws AuthFileError naming origin:line:column and
  // what is wrong (an unknown atom, a bad CIDR, a regex that does not compile, a QoS out of
  // range, an unknown placeholder).
  static AclRules parse(std::string_view text, std::string_view origin);
  // Reads and compiles a file; AuthFileError also when it cannot be read.
  static AclRules load(const std::string& path);

  // EMQX's "raw" rules, as HTTP and database authorization sources and the `acl` of a JWT
  // or an HTTP authentication answer write them: a JSON array of objects with
  // "permission" (allow | deny), "action" (publish | pub | subscribe | sub | all),
  // "topic" or "topics" (strings; "eq ..." for equality), "qos" (0..2, a list, or "0,1"),
  // "retain" (true | false | all | 0 | 1, publish and all only). They apply to the client
  // that carries them: no `who`. Throws AuthFileError naming `origin` and the rule's index.
  static AclRules from_raw(const boost::json::value& rules, std::string_view origin);
  // The `acl` claim of a JWT (or of an HTTP authentication answer): raw rules, or EMQX's
  // older {"pub": [...], "sub": [...], "all": [...]} of allowed topics, where a topic
  // none of them allows is denied (a closing {deny, all} rule), as EMQX does.
  static AclRules from_acl_claim(const boost::json::value& acl, std::string_view origin);

  // The permission of the first rule that matches, or nullopt (no rule matched).
  std::optional<Permission> match(const AclClient& client, const AclAction& action,
                                  std::string_view topic) const;

  std::size_t size() const;

  struct Rule;
  AclRules();
  AclRules(AclRules&&) noexcept;
  AclRules& operator=(AclRules&&) noexcept;
  ~AclRules();

 private:
  std::vector<Rule> rules_;
};

// EMQX's topic match on words (emqx_topic:match over words): `topic` may itself be a
// filter (a subscription), whose '+' and '#' match only themselves or a wider wildcard.
bool acl_topic_matches(std::string_view topic, std::string_view filter);

}  // namespace emqxd::auth
