#include "api/modules_api.hpp"

#include <algorithm>
#include <boost/json.hpp>

#include "api/ops_api.hpp"
#include "api/router.hpp"

namespace emqxd::api {

namespace json = boost::json;

namespace {

constexpr std::chrono::seconds kNodeWait{5};

Response read_only(std::string_view what) {
  return error_response(400, "UPDATE_FAILED",
                        std::string(what) +
                            " does not change at run time in emqxd: change emqx.conf and "
                            "restart the node");
}

Response relay_or_503(const std::optional<NodeAnswer>& a) {
  if (!a) return error_response(503, "SERVICE_UNAVAILABLE", "the node did not answer");
  return relay(*a);
}

bool running(ClusterControl& control, const std::string& node) {
  const auto nodes = control.running_nodes();
  return std::find(nodes.begin(), nodes.end(), node) != nodes.end();
}

bool hex_id(const std::string& id) {
  return !id.empty() && id.size() <= 32 &&
         std::all_of(id.begin(), id.end(), [](char c) { return std::isxdigit(c) != 0; });
}

json::array rewrite_rules(const config::Config& config) {
  json::array out;
  for (const auto& r : config.rewrite) {
    using A = config::RewriteRuleConfig::Action;
    out.push_back(json::object{{"action", r.action == A::Publish     ? "publish"
                                          : r.action == A::Subscribe ? "subscribe"
                                                                     : "all"},
                               {"source_topic", r.source_topic},
                               {"dest_topic", r.dest_topic},
                               {"re", r.re}});
  }
  return out;
}

json::array auto_subscribe_topics(const config::Config& config) {
  json::array out;
  for (const auto& t : config.auto_subscribe) {
    out.push_back(json::object{{"topic", t.topic},
                               {"qos", t.qos},
                               {"rh", t.rh},
                               {"rap", t.rap ? 1 : 0},
                               {"nl", t.nl ? 1 : 0}});
  }
  return out;
}

void add_delayed_routes(RouteTable& t, ClusterControl& control, const std::string& self) {
  t.add("GET", "/api/v5/mqtt/delayed", "delayed publish's settings on the node asked",
        [&control, self](const Call&) {
          return relay_or_503(control.ask(self, "delayed_settings", "{}", kNodeWait));
        });
  t.add("PUT", "/api/v5/mqtt/delayed",
        "change enable and max_delayed_messages on every running node (until it restarts)",
        [&control, self](const Call& c) {
          auto body = parse_object(c.request.body);
          if (!body) return bad_request("a JSON object: {enable, max_delayed_messages}");
          json::object args;
          if (const auto* v = body->if_contains("enable")) {
            if (!v->is_bool()) return bad_request("enable: true or false");
            args["enable"] = *v;
          }
          if (const auto* v = body->if_contains("max_delayed_messages")) {
            if (!v->is_int64() && !v->is_uint64()) {
              return bad_request("max_delayed_messages: an integer");
            }
            if (v->is_int64() && v->as_int64() < 0) {
              return bad_request("Max delayed must be equal or greater than 0");
            }
            if (v->to_number<std::uint64_t>() > UINT32_MAX) {
              return bad_request("max_delayed_messages: at most 4294967295");
            }
            args["max_delayed_messages"] = *v;
          }
          const auto nodes = control.running_nodes();
          const auto answers =
              ask_each(control, nodes, "delayed_set", json::serialize(args), kNodeWait);
          std::optional<NodeAnswer> mine;
          for (std::size_t i = 0; i < nodes.size(); ++i) {
            if (!answers[i] || answers[i]->status != 200) {
              return error_response(500, "INTERNAL_ERROR",
                                    "Update config failed: node " + nodes[i] + " did not apply it");
            }
            if (nodes[i] == self) mine = answers[i];
          }
          return relay_or_503(mine ? mine : control.ask(self, "delayed_settings", "{}", kNodeWait));
        });
  t.add("GET", "/api/v5/mqtt/delayed/messages", "the delayed messages of every running node, paged",
        [&control](const Call& c) {
          std::size_t page = 1, limit = 0;
          if (auto bad = paging(c.target, page, limit)) return *bad;
          return paged(control, control.running_nodes(), "delayed_list", json::object{}, page,
                       limit);
        });
  auto one = [&control](const Call& c, const char* op) {
    const std::string& node = c.params[0];
    const std::string& id = c.params[1];
    if (!running(control, node)) {
      return error_response(400, "INVALID_NODE", "The node name " + node + " is invalid");
    }
    if (!hex_id(id)) {
      return error_response(400, "MESSAGE_ID_SCHEMA_ERROR", "Message ID " + id + " schema error");
    }
    return relay_or_503(
        control.ask(node, op, json::serialize(json::object{{"msgid", id}}), kNodeWait));
  };
  t.add("GET", "/api/v5/mqtt/delayed/messages/{node}/{msgid}", "one delayed message, with payload",
        [one](const Call& c) { return one(c, "delayed_get"); });
  t.add("DELETE", "/api/v5/mqtt/delayed/messages/{node}/{msgid}",
        "delete one delayed message: it is never published", [one](const Call& c) {
          auto r = one(c, "delayed_delete");
          return r.status == 200 ? no_content() : r;
        });
  t.add(
      "DELETE", "/api/v5/mqtt/delayed/messages/{topic}",
      "delete the delayed messages to a topic on every running node", [&control](const Call& c) {
        const std::string& topic = c.params[0];
        if (topic.find_first_of("+#") != std::string::npos) {
          return error_response(400, "INVALID_TOPIC_NAME",
                                "The topic name " + topic + " is invalid");
        }
        const auto nodes = control.running_nodes();
        std::size_t deleted = 0;
        for (const auto& a : ask_each(control, nodes, "delayed_delete_topic",
                                      json::serialize(json::object{{"topic", topic}}), kNodeWait)) {
          if (!a || a->status != 200) continue;
          auto o = parse_object(a->body);
          if (o && o->contains("deleted")) deleted += (*o)["deleted"].to_number<std::size_t>();
        }
        if (deleted == 0) {
          return error_response(404, "MESSAGE_NOT_FOUND", "Not found messages for " + topic);
        }
        return no_content();
      });
}

}  // namespace

void add_modules_routes(RouteTable& t, ClusterControl& control, const config::Config& config) {
  add_delayed_routes(t, control, config.node.name);
  t.add("GET", "/api/v5/mqtt/topic_rewrite", "the topic rewrite rules",
        [&config](const Call&) { return json_response(200, rewrite_rules(config)); });
  t.add("PUT", "/api/v5/mqtt/topic_rewrite", "not supported: emqx.conf and a restart",
        [](const Call&) { return read_only("rewrite"); });
  t.add("GET", "/api/v5/mqtt/auto_subscribe", "the topics every client is subscribed to",
        [&config](const Call&) { return json_response(200, auto_subscribe_topics(config)); });
  t.add("PUT", "/api/v5/mqtt/auto_subscribe", "not supported: emqx.conf and a restart",
        [](const Call&) { return read_only("auto_subscribe"); });
}

}  // namespace emqxd::api
