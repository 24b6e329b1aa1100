#include "api/retainer_api.hpp"

#include <boost/json.hpp>

#include "api/router.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

constexpr std::chrono::seconds kNodeWait{5};
// Clearing every retained message runs in tasks of 1,000 topics (node_ops.cpp).
constexpr std::chrono::seconds kCleanWait{60};

Response relay(const std::optional<NodeAnswer>& a) {
  if (!a) return error_response(503, "SERVICE_UNAVAILABLE", "the node did not answer");
  return api::relay(*a);
}

// The node's JSON object ({} when it is not one).
json::object object_of(const std::string& text) {
  return parse_object(text).value_or(json::object{});
}

}  // namespace

void add_retainer_routes(RouteTable& t, ClusterControl& control, const config::Config& config) {
  const std::string self = config.node.name;
  t.add("GET", "/api/v5/mqtt/retainer", "the retainer's settings", [&config](const Call&) {
    const auto& r = config.retainer;
    return json_response(
        200,
        json::object{
            {"enable", r.enable},
            {"msg_expiry_interval",
             std::to_string(
                 std::chrono::duration_cast<std::chrono::seconds>(r.msg_expiry_interval).count()) +
                 "s"},
            {"max_payload_size", std::to_string(r.max_payload_size) + "B"},
            {"backend",
             json::object{{"type", "built_in_database"},
                          {"storage_type", config.durable_sessions.enable ? "disc" : "ram"},
                          {"max_retained_messages", r.max_retained_messages}}}});
  });
  t.add("GET", "/api/v5/mqtt/retainer/messages",
        "retained messages, by topic (?topic=<filter>), paged", [&control, self](const Call& c) {
          std::size_t page = 1, limit = 0;
          if (auto bad = paging(c.target, page, limit)) return *bad;
          json::object args{{"offset", (page - 1) * limit}, {"limit", limit}};
          if (auto topic = query_param(c.target, "topic")) args["topic"] = *topic;
          auto a = control.ask(self, "retained_list", json::serialize(args), kNodeWait);
          if (!a || a->status != 200) return relay(a);
          json::object o = object_of(a->body);
          const std::size_t count = o.contains("count") ? o["count"].to_number<std::size_t>() : 0;
          return json_response(
              200, json::object{{"data", o["data"]}, {"meta", page_meta(page, limit, count)}});
        });
  t.add("DELETE", "/api/v5/mqtt/retainer/messages",
        "clear every retained message, or those matching ?topic=<filter>, on every node",
        [&control, self](const Call& c) {
          json::object args;
          if (auto topic = query_param(c.target, "topic")) args["filter"] = *topic;
          auto a = control.ask(self, "retained_clear", json::serialize(args), kCleanWait);
          if (!a || a->status != 200) return relay(a);
          return json_response(200, object_of(a->body));
        });
  t.add(
      "GET", "/api/v5/mqtt/retainer/message/{topic}", "one retained message, with its payload",
      [&control, self](const Call& c) {
        return relay(control.ask(self, "retained_get",
                                 json::serialize(json::object{{"topic", c.params[0]}}), kNodeWait));
      });
  t.add("DELETE", "/api/v5/mqtt/retainer/message/{topic}",
        "clear a topic's retained message on every node, delivering nothing",
        [&control, self](const Call& c) {
          auto a = control.ask(self, "retained_clear",
                               json::serialize(json::object{{"topic", c.params[0]}}), kNodeWait);
          if (!a || a->status != 200) return relay(a);
          if (object_of(a->body)["cleared"].to_number<std::size_t>() == 0) {
            return error_response(404, "NOT_FOUND", "no retained message on this topic");
          }
          return no_content();
        });
}

}  // namespace emqxd::api
