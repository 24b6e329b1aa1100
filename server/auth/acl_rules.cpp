#include "auth/acl_rules.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <boost/json/value.hpp>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "auth/regex.hpp"
#include "broker/topic.hpp"

namespace emqxd::auth {

// ---------------------------------------------------------------- addresses

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::string s(text);
  IpAddress a;
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    a.bytes[10] = 0xFF;
    a.bytes[11] = 0xFF;
    std::memcpy(a.bytes.data() + 12, &v4, 4);
    return a;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(a.bytes.data(), &v6, 16);
    return a;
  }
  return std::nullopt;
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto slash = text.find('/');
  auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return std::nullopt;
  const bool v4 = text.substr(0, slash).find(':') == std::string_view::npos;
  Cidr c;
  c.base = *addr;
  c.prefix = 128;
  if (slash != std::string_view::npos) {
    auto bits = text.substr(slash + 1);
    int n = -1;
    auto [p, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), n);
    if (ec != std::errc{} || p != bits.data() + bits.size() || n < 0 || n > (v4 ? 32 : 128))
      return std::nullopt;
    c.prefix = v4 ? 96 + n : n;
  }
  return c;
}

bool Cidr::contains(const IpAddress& a) const {
  int bits = prefix;
  for (std::size_t i = 0; i < 16 && bits > 0; ++i, bits -= 8) {
    const std::uint8_t mask = bits >= 8 ? 0xFF : static_cast<std::uint8_t>(0xFF << (8 - bits));
    if ((a.bytes[i] & mask) != (base.bytes[i] & mask)) return false;
  }
  return true;
}

// ---------------------------------------------------------------- compiled rules

namespace {

struct Who {
  enum class Kind { All, Username, ClientId, IpAddrs, And, Or };
  Kind kind = Kind::All;
  std::string eq;             // Username/ClientId compared for equality...
  std::shared_ptr<Regex> re;  // ...or searched with this
  std::vector<Cidr> cidrs;    // IpAddrs ({ipaddr, C} is a list of one)
  std::vector<Who> subs;      // And, Or

  bool matches(const AclClient& c) const {
    switch (kind) {
      case Kind::All:
        return true;
      case Kind::Username:
        if (!c.username) return false;
        return re ? re->search(*c.username) : *c.username == eq;
      case Kind::ClientId:
        return re ? re->search(c.client_id) : c.client_id == eq;
      case Kind::IpAddrs:
        if (!c.peer) return false;
        for (const auto& cidr : cidrs)
          if (cidr.contains(*c.peer)) return true;
        return false;
      case Kind::And:
        for (const auto& w : subs)
          if (!w.matches(c)) return false;
        return true;
      case Kind::Or:
        for (const auto& w : subs)
          if (w.matches(c)) return true;
        return false;
    }
    return false;
  }
};

struct ActionCond {
  enum class Type { Publish, Subscribe, All };
  Type type = Type::All;
  bool rich = false;  // written {Type, [Opts]}: QoS and RETAIN count
  std::array<bool, 3> qos{true, true, true};
  std::optional<bool> retain;  // nullopt: all

  bool matches(const AclAction& a) const {
    const bool pub = a.type == AclActionType::Publish;
    if (type == Type::Publish && !pub) return false;
    if (type == Type::Subscribe && pub) return false;
    if (!rich) return true;
    if (a.qos < 0 || a.qos > 2 || !qos[static_cast<std::size_t>(a.qos)]) return false;
    return !pub || !retain || *retain == a.retain;
  }
};

struct TopicCond {
  enum class Kind { Filter, Eq, Pattern };
  Kind kind = Kind::Filter;
  std::string text;
};

// `${name}` values for a client; nullopt when it has none.
std::optional<std::string_view> placeholder(const AclClient& c, std::string_view name) {
  if (name == "username") return c.username;
  if (name == "clientid") return c.client_id;
  if (name == "cn" || name == "cert_common_name") return c.cert_common_name;
  if (name.substr(0, 13) == "client_attrs.") {
    if (c.attrs == nullptr) return std::nullopt;
    auto it = c.attrs->find(name.substr(13));
    if (it == c.attrs->end()) return std::nullopt;
    return std::string_view(it->second);
  }
  return std::nullopt;
}

bool known_placeholder(std::string_view name) {
  return name == "username" || name == "clientid" || name == "cn" || name == "cert_common_name" ||
         (name.size() > 13 && name.substr(0, 13) == "client_attrs.");
}

// The filter with the client's values in, or nullopt when one is missing or would add
// levels or wildcards of its own.
std::optional<std::string> render(std::string_view pattern, const AclClient& c) {
  std::string out;
  std::size_t i = 0;
  while (i < pattern.size()) {
    auto open = pattern.find("${", i);
    if (open == std::string_view::npos) {
      out.append(pattern.substr(i));
      break;
    }
    auto close = pattern.find('}', open);
    out.append(pattern.substr(i, open - i));
    auto value = placeholder(c, pattern.substr(open + 2, close - open - 2));
    if (!value || value->find_first_of("+#/") != std::string_view::npos) return std::nullopt;
    out.append(*value);
    i = close + 1;
  }
  return out;
}

}  // namespace

struct AclRules::Rule {
  Permission permission = Permission::Deny;
  Who who;
  ActionCond action;
  std::vector<TopicCond> topics;
  int line = 0;
};

AclRules::AclRules() = default;
AclRules::AclRules(AclRules&&) noexcept = default;
AclRules& AclRules::operator=(AclRules&&) noexcept = default;
AclRules::~AclRules() = default;
std::size_t AclRules::size() const {
  return rules_.size();
}

bool acl_topic_matches(std::string_view topic, std::string_view filter) {
  // EMQX's emqx_topic:match: a '$' topic is never matched by a filter that starts with a
  // wildcard, so "#" and "+/x" do not cover "$SYS/x" [MQTT-4.7.2-1].
  if (topic.starts_with('$') && (filter.starts_with('#') || filter.starts_with('+'))) {
    return false;
  }
  std::string_view t = topic;
  std::string_view f = filter;
  bool t_more = true;
  bool f_more = true;
  for (;;) {
    if (!f_more) return !t_more;
    std::string_view fw = broker::next_level(f, f_more);
    if (fw == "#" && !f_more) return true;  // '#' last: this level and all below, or none
    if (!t_more) return false;
    std::string_view tw = broker::next_level(t, t_more);
    if (tw == fw) continue;
    if (fw == "+" && tw != "#") continue;  // '+' covers one level, or a '+' subscribed
    return false;
  }
}

namespace {

class Compiler {
 public:
  explicit Compiler(std::string_view origin) : origin_(origin) {}

  [[noreturn]] void fail(const Term& at, std::string_view what) const {
    throw AuthFileError(fmt::format("{}:{}:{}: {}", origin_, at.line, at.column, what));
  }

  AclRules::Rule rule(const Term& t) const {
    if (t.kind != Term::Kind::Tuple || (t.items.size() != 2 && t.items.size() != 4))
      fail(t, fmt::format("a rule is {{Permission, Who, Action, Topics}} or {{Permission, all}}, "
                          "not {}",
                          t.describe()));
    AclRules::Rule r;
    r.line = t.line;
    r.permission = permission(t.items[0]);
    if (t.items.size() == 2) {
      if (!t.items[1].is_atom("all"))
        fail(t.items[1], fmt::format("a rule of two elements is {{allow, all}} or {{deny, all}}, "
                                     "not with {}",
                                     t.items[1].describe()));
      r.topics.push_back({TopicCond::Kind::Filter, "#"});
      return r;
    }
    r.who = who(t.items[1], 0);
    r.action = action(t.items[2]);
    const Term& topics = t.items[3];
    if (topics.kind == Term::Kind::String) {
      r.topics.push_back(topic(topics));  // one topic written without its list
    } else if (topics.kind == Term::Kind::List) {
      for (const auto& x : topics.items)
        r.topics.push_back(topic(x));
    } else {
      fail(topics, fmt::format("expected a list of topics, not {}", topics.describe()));
    }
    return r;
  }

 private:
  Permission permission(const Term& t) const {
    if (t.is_atom("allow")) return Permission::Allow;
    if (t.is_atom("deny")) return Permission::Deny;
    fail(t, fmt::format("the permission is allow or deny, not {}", t.describe()));
  }

  std::string text(const Term& t, std::string_view what) const {
    if (!t.is_text()) fail(t, fmt::format("{} must be a string, not {}", what, t.describe()));
    return t.kind == Term::Kind::String ? t.text : std::string{};
  }

  Who who(const Term& t, int depth) const {
    Who w;
    if (t.is_atom("all")) return w;
    if (t.kind != Term::Kind::Tuple || t.items.size() != 2 || t.items[0].kind != Term::Kind::Atom)
      fail(t, fmt::format("expected all, {{username, ...}}, {{clientid, ...}}, {{ipaddr, ...}}, "
                          "{{ipaddrs, ...}}, {{'and', ...}} or {{'or', ...}}, not {}",
                          t.describe()));
    const std::string& k = t.items[0].text;
    const Term& v = t.items[1];
    if (k == "username" || k == "user" || k == "clientid" || k == "client") {
      w.kind = (k == "username" || k == "user") ? Who::Kind::Username : Who::Kind::ClientId;
      if (v.is_tuple(2) && v.items[0].is_atom("re")) {
        std::string error;
        std::string pattern = text(v.items[1], "a regular expression");
        w.re = Regex::compile(pattern, error);
        if (!w.re) fail(v.items[1], fmt::format("bad regular expression: {}", error));
      } else {
        w.eq = text(v, k);
      }
      return w;
    }
    if (k == "ipaddr") {
      w.kind = Who::Kind::IpAddrs;
      w.cidrs.push_back(cidr(v));
      return w;
    }
    if (k == "ipaddrs") {
      w.kind = Who::Kind::IpAddrs;
      if (v.kind != Term::Kind::List) fail(v, "{ipaddrs, ...} takes a list of addresses");
      for (const auto& x : v.items)
        w.cidrs.push_back(cidr(x));
      return w;
    }
    if (k == "and" || k == "or") {
      if (depth >= 4) fail(t, "'and' and 'or' nested too deeply");
      w.kind = k == "and" ? Who::Kind::And : Who::Kind::Or;
      if (v.kind != Term::Kind::List) fail(v, fmt::format("{{'{}', ...}} takes a list", k));
      for (const auto& x : v.items)
        w.subs.push_back(who(x, depth + 1));
      return w;
    }
    fail(t.items[0], fmt::format("unknown client condition `{}` (emqxd knows username, user, "
                                 "clientid, client, ipaddr, ipaddrs, 'and', 'or')",
                                 k));
  }

  Cidr cidr(const Term& t) const {
    std::string s = text(t, "an address");
    auto c = Cidr::parse(s);
    if (!c) fail(t, fmt::format("\"{}\" is not an IP address or CIDR", s));
    return *c;
  }

  ActionCond action(const Term& t) const {
    ActionCond a;
    const Term* name = &t;
    const Term* opts = nullptr;
    if (t.is_tuple(2)) {
      name = &t.items[0];
      opts = &t.items[1];
    }
    if (name->is_atom("publish")) {
      a.type = ActionCond::Type::Publish;
    } else if (name->is_atom("subscribe")) {
      a.type = ActionCond::Type::Subscribe;
    } else if (name->is_atom("all")) {
      a.type = ActionCond::Type::All;
    } else if (name->is_atom("pubsub")) {
      fail(*name, "`pubsub` is EMQX 4's; EMQX 5 (and emqxd) write `all`");
    } else {
      fail(*name, fmt::format("the action is publish, subscribe or all, or {{Action, [Options]}}, "
                              "not {}",
                              name->describe()));
    }
    if (opts == nullptr) return a;
    if (opts->kind != Term::Kind::List)
      fail(*opts, "action options are a list: [{qos, 0..2}, {retain, true|false|all}]");
    a.rich = true;
    bool qos_given = false;
    for (const auto& o : opts->items) {
      if (!o.is_tuple(2) || o.items[0].kind != Term::Kind::Atom)
        fail(o, fmt::format("an action option is {{qos, ...}} or {{retain, ...}}, not {}",
                            o.describe()));
      const std::string& k = o.items[0].text;
      const Term& v = o.items[1];
      if (k == "qos") {
        if (!qos_given) a.qos = {false, false, false};
        qos_given = true;
        auto one = [&](const Term& q) {
          if (q.kind != Term::Kind::Integer || q.integer < 0 || q.integer > 2)
            fail(q, fmt::format("a QoS is 0, 1 or 2, not {}", q.describe()));
          a.qos[static_cast<std::size_t>(q.integer)] = true;
        };
        if (v.kind == Term::Kind::List) {
          for (const auto& q : v.items)
            one(q);
        } else {
          one(v);
        }
      } else if (k == "retain") {
        if (a.type == ActionCond::Type::Subscribe)
          fail(o, "subscribe has no retain condition (only publish and all do)");
        if (v.is_atom("true")) {
          a.retain = true;
        } else if (v.is_atom("false")) {
          a.retain = false;
        } else if (v.is_atom("all")) {
          a.retain.reset();
        } else {
          fail(v, fmt::format("retain is true, false or all, not {}", v.describe()));
        }
      } else {
        fail(o.items[0], fmt::format("unknown action option `{}` (qos, retain)", k));
      }
    }
    return a;
  }

  TopicCond topic(const Term& t) const {
    if (t.is_tuple(2) && t.items[0].is_atom("eq"))
      return {TopicCond::Kind::Eq, text(t.items[1], "an {eq, Topic} topic")};
    std::string s = text(t, "a topic");
    if (s.rfind("eq ", 0) == 0) return {TopicCond::Kind::Eq, s.substr(3)};
    if (s.empty()) fail(t, "a topic must not be empty");
    bool pattern = false;
    for (std::size_t i = s.find("${"); i != std::string::npos; i = s.find("${", i + 2)) {
      auto close = s.find('}', i);
      if (close == std::string::npos) fail(t, fmt::format("unclosed placeholder in \"{}\"", s));
      std::string_view name(s.data() + i + 2, close - i - 2);
      if (!known_placeholder(name))
        fail(t, fmt::format("unknown placeholder ${{{}}} (emqxd knows ${{username}}, "
                            "${{clientid}}, ${{cn}}, ${{client_attrs.NAME}})",
                            name));
      pattern = true;
    }
    return {pattern ? TopicCond::Kind::Pattern : TopicCond::Kind::Filter, std::move(s)};
  }

  std::string_view origin_;
};

}  // namespace

AclRules AclRules::parse(std::string_view text, std::string_view origin) {
  Compiler c(origin);
  AclRules out;
  for (const auto& t : parse_terms(text, origin))
    out.rules_.push_back(c.rule(t));
  return out;
}

AclRules AclRules::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw AuthFileError(fmt::format("{}: cannot read the file: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

namespace {

namespace json = boost::json;

[[noreturn]] void raw_fail(std::string_view origin, std::size_t index, std::string_view what) {
  throw AuthFileError(fmt::format("{}: rule {}: {}", origin, index + 1, what));
}

std::string raw_text(const json::value& v) {
  if (v.is_string()) return std::string(v.as_string());
  if (v.is_int64()) return std::to_string(v.as_int64());
  if (v.is_bool()) return v.as_bool() ? "true" : "false";
  return {};
}

TopicCond raw_topic(std::string_view origin, std::size_t i, const json::value& v) {
  if (!v.is_string() || v.as_string().empty()) raw_fail(origin, i, "a topic must be a string");
  std::string s(v.as_string());
  if (s.rfind("eq ", 0) == 0) return {TopicCond::Kind::Eq, s.substr(3)};
  bool pattern = false;
  for (std::size_t at = s.find("${"); at != std::string::npos; at = s.find("${", at + 2)) {
    auto close = s.find('}', at);
    if (close == std::string::npos ||
        !known_placeholder(std::string_view(s).substr(at + 2, close - at - 2)))
      raw_fail(origin, i, fmt::format("unknown or unclosed placeholder in \"{}\"", s));
    pattern = true;
  }
  return {pattern ? TopicCond::Kind::Pattern : TopicCond::Kind::Filter, std::move(s)};
}

}  // namespace

AclRules AclRules::from_raw(const json::value& rules, std::string_view origin) {
  if (!rules.is_array()) throw AuthFileError(fmt::format("{}: rules must be a JSON array", origin));
  AclRules out;
  std::size_t i = 0;
  for (const auto& v : rules.as_array()) {
    if (!v.is_object()) raw_fail(origin, i, "a rule must be a JSON object");
    const auto& o = v.as_object();
    Rule r;
    auto field = [&](std::string_view name) { return o.if_contains(name); };
    const json::value* perm = field("permission");
    const json::value* action = field("action");
    if (perm == nullptr || action == nullptr)
      raw_fail(origin, i, "missing 'permission' or 'action'");
    const std::string p = raw_text(*perm);
    if (p == "allow")
      r.permission = Permission::Allow;
    else if (p == "deny")
      r.permission = Permission::Deny;
    else
      raw_fail(origin, i, "permission must be allow or deny");
    const std::string a = raw_text(*action);
    if (a == "publish" || a == "pub")
      r.action.type = ActionCond::Type::Publish;
    else if (a == "subscribe" || a == "sub")
      r.action.type = ActionCond::Type::Subscribe;
    else if (a == "all")
      r.action.type = ActionCond::Type::All;
    else
      raw_fail(origin, i, "action must be publish, subscribe or all");
    r.action.rich = true;  // EMQX's raw rules always carry qos and retain (default: any)
    if (const json::value* q = field("qos"); q != nullptr && !q->is_null()) {
      r.action.qos = {false, false, false};
      auto one = [&](const json::value& x) {
        std::string t = raw_text(x);
        if (t != "0" && t != "1" && t != "2") raw_fail(origin, i, "qos must be 0, 1 or 2");
        r.action.qos[static_cast<std::size_t>(t[0] - '0')] = true;
      };
      if (q->is_array()) {
        for (const auto& x : q->as_array())
          one(x);
      } else if (q->is_string()) {
        std::string_view rest = q->as_string();
        for (bool more = true; more;) {
          auto comma = rest.find(',');
          one(json::value(rest.substr(0, comma)));
          more = comma != std::string_view::npos;
          if (more) rest.remove_prefix(comma + 1);
        }
      } else {
        one(*q);
      }
    }
    if (const json::value* ret = field("retain"); ret != nullptr && !ret->is_null()) {
      const std::string t = raw_text(*ret);
      if (t == "true" || t == "1")
        r.action.retain = true;
      else if (t == "false" || t == "0")
        r.action.retain = false;
      else if (t == "all")
        r.action.retain.reset();
      else
        raw_fail(origin, i, "retain must be true, false or all");
    }
    if (const json::value* t = field("topic"); t != nullptr && t->is_string()) {
      r.topics.push_back(raw_topic(origin, i, *t));
    } else if (const json::value* ts = field("topics"); ts != nullptr && ts->is_array()) {
      for (const auto& x : ts->as_array())
        r.topics.push_back(raw_topic(origin, i, x));
    } else {
      raw_fail(origin, i, "missing 'topic' or 'topics'");
    }
    out.rules_.push_back(std::move(r));
    ++i;
  }
  return out;
}

AclRules AclRules::from_acl_claim(const json::value& acl, std::string_view origin) {
  if (!acl.is_object()) return from_raw(acl, origin);
  AclRules out;
  for (const auto& [key, v] : acl.as_object()) {
    Rule r;
    r.permission = Permission::Allow;
    if (key == "pub")
      r.action.type = ActionCond::Type::Publish;
    else if (key == "sub")
      r.action.type = ActionCond::Type::Subscribe;
    else if (key == "all")
      r.action.type = ActionCond::Type::All;
    else
      throw AuthFileError(
          fmt::format("{}: unknown key \"{}\" (pub, sub, all)", origin, std::string_view(key)));
    if (!v.is_array())
      throw AuthFileError(
          fmt::format("{}: \"{}\" must be a list of topics", origin, std::string_view(key)));
    for (const auto& t : v.as_array())
      r.topics.push_back(raw_topic(origin, out.rules_.size(), t));
    out.rules_.push_back(std::move(r));
  }
  Rule deny;  // what none of the lists allows is denied
  deny.permission = Permission::Deny;
  deny.topics.push_back({TopicCond::Kind::Filter, "#"});
  out.rules_.push_back(std::move(deny));
  return out;
}

std::optional<Permission> AclRules::match(const AclClient& client, const AclAction& action,
                                          std::string_view topic) const {
  for (const auto& r : rules_) {
    if (!r.action.matches(action) || !r.who.matches(client)) continue;
    for (const auto& tc : r.topics) {
      bool hit = false;
      switch (tc.kind) {
        case TopicCond::Kind::Eq:
          hit = topic == tc.text;
          break;
        case TopicCond::Kind::Filter:
          hit = acl_topic_matches(topic, tc.text);
          break;
        case TopicCond::Kind::Pattern:
          if (auto f = render(tc.text, client)) hit = acl_topic_matches(topic, *f);
          break;
      }
      if (hit) return r.permission;
    }
  }
  return std::nullopt;
}

}  // namespace emqxd::auth
