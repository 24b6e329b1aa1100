// acl.conf rules (server/auth/acl_rules.hpp): EMQX's grammar, its default file's meaning,
// first match wins, and errors that say where.
#include "auth/acl_rules.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <string>

namespace {

using namespace emqxd::auth;

AclClient client(std::string_view id, std::optional<std::string_view> user = std::nullopt,
                 std::string_view ip = "10.1.2.3") {
  AclClient c;
  c.client_id = id;
  c.username = user;
  c.peer = IpAddress::parse(ip);
  return c;
}

AclAction pub(int qos = 0, bool retain = false) {
  return {AclActionType::Publish, qos, retain};
}
AclAction sub(int qos = 0) {
  return {AclActionType::Subscribe, qos, false};
}

// "allow", "deny" or "nomatch"
std::string decide(const AclRules& r, const AclClient& c, const AclAction& a,
                   std::string_view topic) {
  auto p = r.match(c, a, topic);
  if (!p) return "nomatch";
  return *p == Permission::Allow ? "allow" : "deny";
}

std::string error_of(std::string_view text) {
  try {
    AclRules::parse(text, "acl.conf");
  } catch (const AuthFileError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("acl: EMQX's default acl.conf means what it means there") {
  AclRules r = AclRules::load(EMQXD_SOURCE_DIR "/deploy/acl.conf");
  REQUIRE(r.size() == 4);
  auto dashboard = client("d1", "dashboard");
  auto local = client("l1", "bob", "127.0.0.1");
  auto other = client("o1", "bob");

  // 1: username ^dashboard$ may subscribe to $SYS/#.
  CHECK(decide(r, dashboard, sub(), "$SYS/brokers/+/clients/#") == "allow");
  CHECK(decide(r, client("d2", "dashboard2"), sub(), "$SYS/brokers") == "deny");
  // 2: 127.0.0.1 may do everything, $SYS and "#" included.
  CHECK(decide(r, local, sub(), "$SYS/brokers") == "allow");
  CHECK(decide(r, local, sub(), "#") == "allow");
  CHECK(decide(r, local, pub(), "a/b") == "allow");
  // 3: nobody else subscribes to $SYS/# or to "#" as written...
  CHECK(decide(r, other, sub(), "$SYS/brokers") == "deny");
  CHECK(decide(r, other, sub(), "#") == "deny");
  CHECK(decide(r, dashboard, sub(), "#") == "deny");
  // ...but "a/#" is not "#", and publishing to $SYS is not subscribing.
  CHECK(decide(r, other, sub(), "a/#") == "allow");
  CHECK(decide(r, other, sub(1), "+/b") == "allow");
  // 4: {allow, all} is "#" for every action, which does not cover '$' topics (EMQX's
  // emqx_topic:match): publishing to $SYS/x is left to no_match.
  CHECK(decide(r, other, pub(2, true), "$SYS/x") == "nomatch");
  CHECK(decide(r, client("anon"), pub(), "t") == "allow");
}

TEST_CASE("acl: the first matching rule decides, none is nomatch") {
  AclRules r = AclRules::parse(
      "{deny, {username, \"eve\"}, all, [\"#\"]}.\n"
      "{allow, {clientid, {re, \"^sensor-[0-9]+$\"}}, publish, [\"sensors/${clientid}/#\"]}.\n"
      "{allow, {user, \"bob\"}, subscribe, [\"bob/+\", {eq, \"bob/#\"}]}.\n",
      "acl.conf");
  CHECK(decide(r, client("sensor-1", "eve"), pub(), "sensors/sensor-1/t") == "deny");
  CHECK(decide(r, client("sensor-1"), pub(), "sensors/sensor-1/t") == "allow");
  CHECK(decide(r, client("sensor-1"), pub(), "sensors/sensor-1") == "allow");  // '#' parent
  CHECK(decide(r, client("sensor-1"), pub(), "sensors/sensor-2/t") == "nomatch");
  CHECK(decide(r, client("sensor-x"), pub(), "sensors/sensor-x/t") == "nomatch");
  CHECK(decide(r, client("sensor-1"), sub(), "sensors/sensor-1/t") == "nomatch");
  CHECK(decide(r, client("c", "bob"), sub(), "bob/x") == "allow");
  CHECK(decide(r, client("c", "bob"), sub(), "bob/+") == "allow");
  CHECK(decide(r, client("c", "bob"), sub(), "bob/#") == "allow");  // {eq, "bob/#"}
  CHECK(decide(r, client("c", "bob"), sub(), "bob/x/y") == "nomatch");
  CHECK(decide(r, client("c"), sub(), "bob/x") == "nomatch");  // no username: no match
}

TEST_CASE("acl: a subscription's wildcards are within a rule's only when narrower") {
  CHECK(acl_topic_matches("a/b", "a/+"));
  CHECK(acl_topic_matches("a/+", "a/+"));
  CHECK(acl_topic_matches("a/+", "a/#"));
  CHECK(acl_topic_matches("a/#", "a/#"));
  CHECK(acl_topic_matches("a", "a/#"));
  CHECK(acl_topic_matches("#", "#"));
  CHECK_FALSE(acl_topic_matches("$SYS/x", "#"));  // EMQX: '$' topics escape leading wildcards
  CHECK_FALSE(acl_topic_matches("$SYS/x", "+/x"));
  CHECK(acl_topic_matches("$SYS/x", "$SYS/#"));
  CHECK(acl_topic_matches("$SYS/x", "$SYS/+"));
  CHECK(acl_topic_matches("a//b", "a/+/b"));
  CHECK_FALSE(acl_topic_matches("a/#", "a/+"));  // EMQX says yes; a/# reaches a/b/c
  CHECK_FALSE(acl_topic_matches("#", "a/#"));
  CHECK_FALSE(acl_topic_matches("a/b/c", "a/+"));
  CHECK_FALSE(acl_topic_matches("a", "a/+"));
  CHECK_FALSE(acl_topic_matches("b", "a/#"));
}

TEST_CASE("acl: QoS and retain conditions") {
  AclRules r = AclRules::parse(
      "{deny, all, {publish, [{qos, [1, 2]}, {retain, true}]}, [\"t/#\"]}.\n"
      "{deny, all, {subscribe, [{qos, 2}]}, [\"t/#\"]}.\n"
      "{deny, all, {all, [{qos, 0}]}, [\"z\"]}.\n"
      "{allow, all}.\n",
      "acl.conf");
  auto c = client("c");
  CHECK(decide(r, c, pub(1, true), "t/a") == "deny");
  CHECK(decide(r, c, pub(2, true), "t/a") == "deny");
  CHECK(decide(r, c, pub(0, true), "t/a") == "allow");
  CHECK(decide(r, c, pub(1, false), "t/a") == "allow");
  CHECK(decide(r, c, sub(2), "t/a") == "deny");
  CHECK(decide(r, c, sub(1), "t/a") == "allow");
  CHECK(decide(r, c, sub(0), "z") == "deny");
  CHECK(decide(r, c, pub(0, true), "z") == "deny");
  CHECK(decide(r, c, pub(1), "z") == "allow");
}

TEST_CASE("acl: addresses, CIDRs and 'and'/'or'") {
  AclRules r = AclRules::parse(
      "{allow, {ipaddrs, [\"192.168.0.0/16\", \"fd00::/8\"]}, publish, [\"lan/#\"]}.\n"
      "{allow, {'and', [{ipaddr, \"10.0.0.0/8\"}, {username, \"ops\"}]}, all, [\"ops/#\"]}.\n"
      "{allow, {'or', [{clientid, \"a\"}, {clientid, \"b\"}]}, all, [\"ab\"]}.\n",
      "acl.conf");
  CHECK(decide(r, client("c", {}, "192.168.4.5"), pub(), "lan/x") == "allow");
  CHECK(decide(r, client("c", {}, "::ffff:192.168.4.5"), pub(), "lan/x") == "allow");
  CHECK(decide(r, client("c", {}, "fd12::1"), pub(), "lan/x") == "allow");
  CHECK(decide(r, client("c", {}, "192.169.0.1"), pub(), "lan/x") == "nomatch");
  CHECK(decide(r, client("c", "ops", "10.9.9.9"), pub(), "ops/a") == "allow");
  CHECK(decide(r, client("c", "ops", "11.0.0.1"), pub(), "ops/a") == "nomatch");
  CHECK(decide(r, client("c", "dev", "10.9.9.9"), pub(), "ops/a") == "nomatch");
  CHECK(decide(r, client("b"), sub(), "ab") == "allow");
  CHECK(decide(r, client("x"), sub(), "ab") == "nomatch");
  AclClient no_peer = client("c");
  no_peer.peer.reset();
  CHECK(decide(r, no_peer, pub(), "lan/x") == "nomatch");
}

TEST_CASE("acl: placeholders render the client's values, or match nothing") {
  AclRules r = AclRules::parse(
      "{allow, all, all, [\"u/${username}/#\", \"c/${clientid}\", \"cn/${cn}\", "
      "\"g/${client_attrs.group}/#\"]}.\n"
      "{allow, all, publish, \"one/${clientid}\"}.\n",  // one topic without its list
      "acl.conf");
  CHECK(decide(r, client("c1", "ann"), pub(), "u/ann/x") == "allow");
  CHECK(decide(r, client("c1", "ann"), pub(), "u/bob/x") == "nomatch");
  CHECK(decide(r, client("c1"), pub(), "u//x") == "nomatch");  // no username
  CHECK(decide(r, client("c1", "+"), pub(), "u/x/y") == "nomatch");
  CHECK(decide(r, client("c1", "a/b"), pub(), "u/a/b/y") == "nomatch");
  CHECK(decide(r, client("c1"), pub(), "c/c1") == "allow");
  CHECK(decide(r, client("c1"), pub(), "one/c1") == "allow");
  AclClient tls = client("c1");
  tls.cert_common_name = "dev-7";
  CHECK(decide(r, tls, pub(), "cn/dev-7") == "allow");
  CHECK(decide(r, client("c1"), pub(), "cn/dev-7") == "nomatch");
  std::map<std::string, std::string, std::less<>> attrs{{"group", "g1"}};
  AclClient with = client("c1");
  with.attrs = &attrs;
  CHECK(decide(r, with, pub(), "g/g1/t") == "allow");
  CHECK(decide(r, client("c1"), pub(), "g/g1/t") == "nomatch");
}

TEST_CASE("acl: 'eq ' written in the string is {eq, ...}") {
  AclRules r = AclRules::parse("{deny, all, subscribe, [\"eq a/#\"]}.", "acl.conf");
  CHECK(decide(r, client("c"), sub(), "a/#") == "deny");
  CHECK(decide(r, client("c"), sub(), "a/b") == "nomatch");
}

TEST_CASE("acl: a regex that backtracks without end matches nothing, quickly") {
  AclRules r = AclRules::parse("{allow, {username, {re, \"^(a+)+$\"}}, all, [\"#\"]}.", "f");
  std::string evil(40, 'a');
  evil += '!';
  CHECK(decide(r, client("c", evil), pub(), "t") == "nomatch");
  CHECK(decide(r, client("c", "aaaa"), pub(), "t") == "allow");
}

TEST_CASE("acl: mistakes stop with where and what") {
  CHECK(error_of("{allow, all, publish}.") ==
        "acl.conf:1:1: a rule is {Permission, Who, Action, Topics} or {Permission, all}, not a "
        "tuple of 3");
  CHECK(error_of("{permit, all}.") ==
        "acl.conf:1:2: the permission is allow or deny, not `permit`");
  CHECK(error_of("{allow, {usr, \"a\"}, all, [\"#\"]}.")
            .find("acl.conf:1:10: unknown client "
                  "condition `usr`") == 0);
  CHECK(error_of("{allow, {ipaddr, \"300.0.0.1\"}, all, [\"#\"]}.")
            .find("\"300.0.0.1\" is not an IP address or CIDR") != std::string::npos);
  CHECK(error_of("{allow, {ipaddr, \"10.0.0.0/33\"}, all, [\"#\"]}.")
            .find("is not an IP address or CIDR") != std::string::npos);
  CHECK(error_of("{allow, {username, {re, \"(\"}}, all, [\"#\"]}.")
            .find("acl.conf:1:25: bad regular expression") == 0);
  CHECK(error_of("{allow, all, pubsub, [\"#\"]}.").find("EMQX 5 (and emqxd) write `all`") !=
        std::string::npos);
  CHECK(
      error_of("{allow, all, {publish, [{qos, 3}]}, [\"#\"]}.").find("a QoS is 0, 1 or 2, not 3") !=
      std::string::npos);
  CHECK(error_of("{allow, all, {publish, [{retain, maybe}]}, [\"#\"]}.")
            .find("retain is true, false or all") != std::string::npos);
  CHECK(error_of("{allow, all, {publish, [{qso, 1}]}, [\"#\"]}.")
            .find("unknown action option `qso`") != std::string::npos);
  CHECK(
      error_of("{allow, all, all, [\"${peerhost}/#\"]}.").find("unknown placeholder ${peerhost}") !=
      std::string::npos);
  CHECK(error_of("{allow, all, all, [\"\"]}.").find("a topic must not be empty") !=
        std::string::npos);
  CHECK(error_of("{allow, all, all, [a]}.").find("a topic must be a string, not `a`") !=
        std::string::npos);
  CHECK(error_of("{allow, all, all, 12}.").find("expected a list of topics") != std::string::npos);
  CHECK(error_of("{allow, everyone}.").find("{allow, all} or {deny, all}") != std::string::npos);
  CHECK_THROWS_AS(AclRules::load("/nonexistent/acl.conf"), AuthFileError);
}

TEST_CASE("acl: EMQX's raw rules, as HTTP, databases and JWT acl claims carry them") {
  auto raw = boost::json::parse(R"([
    {"permission": "deny", "action": "pub", "topic": "t/secret", "qos": [1, 2]},
    {"permission": "allow", "action": "publish", "topics": ["t/#", "eq x/#"], "retain": false},
    {"permission": "allow", "action": "sub", "topic": "u/${username}/#", "qos": "0,1"},
    {"permission": "deny", "action": "all", "topic": "#"}
  ])");
  AclRules r = AclRules::from_raw(raw, "http");
  auto c = client("c", "ann");
  CHECK(decide(r, c, pub(1), "t/secret") == "deny");
  CHECK(decide(r, c, pub(0), "t/secret") == "allow");
  CHECK(decide(r, c, pub(0, true), "t/a") == "deny");  // retain false only, then the last rule
  CHECK(decide(r, c, pub(2), "x/#") == "allow");
  CHECK(decide(r, c, sub(1), "u/ann/+") == "allow");
  CHECK(decide(r, c, sub(2), "u/ann/+") == "deny");
  CHECK(decide(r, c, sub(0), "t/a") == "deny");

  auto error_of_raw = [](std::string_view json) {
    try {
      AclRules::from_raw(boost::json::parse(json), "http");
    } catch (const AuthFileError& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(error_of_raw(R"({"a": 1})") == "http: rules must be a JSON array");
  CHECK(error_of_raw(R"([{"permission": "allow", "action": "pub", "topic": "a"}, 3])") ==
        "http: rule 2: a rule must be a JSON object");
  CHECK(error_of_raw(R"([{"action": "pub", "topic": "a"}])") ==
        "http: rule 1: missing 'permission' or 'action'");
  CHECK(error_of_raw(R"([{"permission": "maybe", "action": "pub", "topic": "a"}])") ==
        "http: rule 1: permission must be allow or deny");
  CHECK(error_of_raw(R"([{"permission": "allow", "action": "push", "topic": "a"}])") ==
        "http: rule 1: action must be publish, subscribe or all");
  CHECK(error_of_raw(R"([{"permission": "allow", "action": "pub"}])") ==
        "http: rule 1: missing 'topic' or 'topics'");
  CHECK(error_of_raw(R"([{"permission": "allow", "action": "pub", "topic": "a", "qos": 3}])") ==
        "http: rule 1: qos must be 0, 1 or 2");
  CHECK(error_of_raw(R"([{"permission": "allow", "action": "pub", "topic": "a", "retain": 2}])") ==
        "http: rule 1: retain must be true, false or all");
}

TEST_CASE("acl: a JWT's acl claim in EMQX's older pub/sub/all form denies what it omits") {
  AclRules r = AclRules::from_acl_claim(
      boost::json::parse(R"({"pub": ["p/${clientid}"], "sub": ["s/#"], "all": ["a"]})"), "jwt");
  auto c = client("dev1");
  CHECK(decide(r, c, pub(), "p/dev1") == "allow");
  CHECK(decide(r, c, pub(), "p/dev2") == "deny");
  CHECK(decide(r, c, sub(), "s/x") == "allow");
  CHECK(decide(r, c, pub(), "s/x") == "deny");
  CHECK(decide(r, c, sub(), "a") == "allow");
  CHECK(decide(r, c, pub(), "a") == "allow");
  // The newer form is raw rules: what they do not match is nomatch, the chain goes on.
  AclRules n = AclRules::from_acl_claim(
      boost::json::parse(R"([{"permission": "allow", "action": "all", "topic": "n/#"}])"), "jwt");
  CHECK(decide(n, c, pub(), "n/1") == "allow");
  CHECK(decide(n, c, pub(), "m/1") == "nomatch");
  CHECK_THROWS_AS(AclRules::from_acl_claim(boost::json::parse(R"({"push": []})"), "jwt"),
                  AuthFileError);
}
