// NanoMQ's NNG bridges' message layout (gateways/nng/topics.hpp), with the examples of
// NanoMQ's documentation of bridges.nng.sub and bridges.nng.pub.
#include <catch2/catch.hpp>

#include "gateways/nng/topics.hpp"

using emqxd::config::NngBridgeConfig;
using emqxd::gateways::nng::incoming;
using emqxd::gateways::nng::outgoing;

namespace {

NngBridgeConfig::Topic topic(std::string remote, std::string local, std::string delimiter = "/") {
  NngBridgeConfig::Topic t;
  t.remote_topic = std::move(remote);
  t.local_topic = std::move(local);
  t.delimiter = std::move(delimiter);
  return t;
}

}  // namespace

TEST_CASE("sub: with the delimiter / the rest after remote_topic is the payload") {
  // remote_topic "nng/pub", message "nng/pub/123/hello": topic "nng/pub", payload "123/hello".
  auto got = incoming(topic("nng/pub", ""), "nng/pub/123/hello");
  REQUIRE(got);
  CHECK(*got == std::pair<std::string, std::string>{"nng/pub", "123/hello"});
  CHECK(incoming(topic("nng", "local/nng"), "nng/x")->first == "local/nng");
  CHECK_FALSE(incoming(topic("nng", ""), "nngx/y"));  // a prefix, not the topic
  CHECK_FALSE(incoming(topic("nng", ""), "nng"));     // no delimiter
  CHECK_FALSE(incoming(topic("other", ""), "nng/x"));
  CHECK(incoming(topic("nng", ""), "nng/")->second.empty());
}

TEST_CASE("sub: with another delimiter the topic runs to it") {
  // remote_topic "nng/pub", ":", message "nng/pub/123/1234:payload": topic
  // "nng/pub/123/1234", payload "payload".
  auto got = incoming(topic("nng/pub", "", ":"), "nng/pub/123/1234:payload");
  REQUIRE(got);
  CHECK(*got == std::pair<std::string, std::string>{"nng/pub/123/1234", "payload"});
  CHECK(incoming(topic("ek", "local/ek", "::"), "ek/a::b:c")->second == "b:c");
  CHECK_FALSE(incoming(topic("ek", "", ":"), "ek/no-delimiter"));
  CHECK_FALSE(incoming(topic("ek", "", ":"), "ek/+/x:wild"));  // no wildcard topics
}

TEST_CASE("pub: remote_topic, the delimiter and the payload") {
  CHECK(outgoing(topic("remote/nng", "nng/#"), "nng/a", "hi") == "remote/nng/hi");
  CHECK(outgoing(topic("", "nng/#", ":"), "nng/a", "hi") == "nng/a:hi");
}
