// Broker::routes: the node's distinct subscribed filters, as the HTTP API lists them.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "broker/broker.hpp"

namespace {

using emqxd::broker::Broker;
using emqxd::broker::SharedStrategy;
using emqxd::broker::SubscriberRef;

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE(
    "routes: one per distinct filter, shared groups under their filter, gone when the "
    "last subscriber goes",
    "[broker][routes]") {
  Broker b(SharedStrategy::RoundRobin);
  emqxd::mqtt::SubscribeOptions o;
  b.subscribe("a/+", SubscriberRef{0, 1}, o, 0);
  b.subscribe("a/+", SubscriberRef{1, 2}, o, 0);
  b.subscribe("$share/g/s/#", SubscriberRef{0, 3}, o, 0);
  b.subscribe("x/y", SubscriberRef{0, 4}, o, 0);

  std::size_t total = 0;
  CHECK(sorted(b.routes("", 100, &total)) == std::vector<std::string>{"a/+", "s/#", "x/y"});
  CHECK(total == 3);
  CHECK(b.routes("", 2, &total).size() == 2);
  CHECK(total == 3);
  CHECK(b.routes("", 0, &total).empty());
  CHECK(total == 3);

  // A topic given: that filter only, as written (no wildcard matching).
  CHECK(b.routes("a/+", 100, &total) == std::vector<std::string>{"a/+"});
  CHECK(total == 1);
  CHECK(b.routes("a/b", 100, &total).empty());
  CHECK(total == 0);

  b.unsubscribe("a/+", SubscriberRef{0, 1});
  CHECK(b.routes("a/+", 100) == std::vector<std::string>{"a/+"});
  b.unsubscribe("a/+", SubscriberRef{1, 2});
  CHECK(b.routes("a/+", 100).empty());
  b.unsubscribe("$share/g/s/#", SubscriberRef{0, 3});
  CHECK(b.routes("", 100, &total) == std::vector<std::string>{"x/y"});
  CHECK(total == 1);
}
