#include "api/topic_stats_api.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <map>

#include "api/router.hpp"
#include "common/time_text.hpp"
#include "mqtt/message.hpp"
#include "session/node_state.hpp"

namespace emqxd::api {

namespace json = boost::json;
using session::SlowSubs;
using session::TopicMetrics;

namespace {

constexpr std::chrono::seconds kNodeWait{5};

std::optional<std::string> string_arg(const json::object& a, std::string_view key) {
  if (const auto* v = a.if_contains(key); v != nullptr && v->is_string()) {
    return std::string(v->as_string());
  }
  return std::nullopt;
}

double round4(double v) {
  return std::round(v * 10000) / 10000;
}

// One node's sample, as that node answers it.
json::object sample_json(const TopicMetrics::Sample& s) {
  json::object metrics;
  for (std::size_t i = 0; i < TopicMetrics::kMetrics; ++i) {
    const std::string name(TopicMetrics::name(static_cast<TopicMetrics::Metric>(i)));
    metrics[name + ".count"] = s.count[i];
    metrics[name + ".rate"] = round4(s.rate[i]);
  }
  json::object o{{"topic", s.topic},
                 {"create_time", time_text::rfc3339(s.create_ms / 1000)},
                 {"metrics", std::move(metrics)}};
  if (s.reset_ms) o["reset_time"] = time_text::rfc3339(*s.reset_ms / 1000);
  return o;
}

// The bodies of the nodes that answered 200, parsed.
std::vector<json::value> ask_all(ClusterControl& control, const std::string& op,
                                 const json::object& args) {
  std::vector<json::value> out;
  for (const auto& a :
       ask_each(control, control.running_nodes(), op, json::serialize(args), kNodeWait)) {
    if (!a || a->status != 200) continue;
    boost::system::error_code ec;
    json::value v = json::parse(a->body, ec);
    if (!ec) out.push_back(std::move(v));
  }
  return out;
}

// Every node's topics, summed per topic, by topic (EMQX adds counts and rates up).
std::vector<json::object> cluster_metrics(ClusterControl& control,
                                          const std::optional<std::string>& topic) {
  json::object args;
  if (topic) args["topic"] = *topic;
  std::map<std::string, json::object> by_topic;
  for (auto& v : ask_all(control, "topic_metrics", args)) {
    auto* data = v.is_object() ? v.as_object().if_contains("data") : nullptr;
    if (data == nullptr || !data->is_array()) continue;
    for (auto& item : data->as_array()) {
      if (!item.is_object()) continue;
      auto& o = item.as_object();
      auto* t = o.if_contains("topic");
      auto* m = o.if_contains("metrics");
      if (t == nullptr || !t->is_string() || m == nullptr || !m->is_object()) continue;
      auto [slot, fresh] = by_topic.try_emplace(std::string(t->as_string()));
      if (fresh) {
        slot->second = std::move(o);
        continue;
      }
      auto& sum = slot->second["metrics"].as_object();
      for (const auto& kv : m->as_object()) {
        auto* have = sum.if_contains(kv.key());
        if (have == nullptr) continue;
        if (have->is_double() || kv.value().is_double()) {
          *have = round4(have->to_number<double>() + kv.value().to_number<double>());
        } else {
          *have = have->to_number<std::uint64_t>() + kv.value().to_number<std::uint64_t>();
        }
      }
      if (auto* r = o.if_contains("reset_time")) {
        auto* mine = slot->second.if_contains("reset_time");
        if (mine == nullptr ||
            (r->is_string() && mine->is_string() && r->as_string() > mine->as_string())) {
          slot->second["reset_time"] = *r;
        }
      }
    }
  }
  std::vector<json::object> out;
  for (auto& [t, o] : by_topic)
    out.push_back(std::move(o));
  return out;
}

Response topic_outcome(TopicMetrics::Outcome r) {
  switch (r) {
    case TopicMetrics::Outcome::Ok:
      return no_content();
    case TopicMetrics::Outcome::Exists:
      return error_response(400, "BAD_TOPIC", "Topic already registered");
    case TopicMetrics::Outcome::BadTopic:
      return error_response(400, "BAD_TOPIC", "Wildcard topic is not supported");
    case TopicMetrics::Outcome::Full:
      return error_response(
          409, "EXCEED_LIMIT",
          "Max topic metrics count is " + std::to_string(TopicMetrics::kMaxTopics));
    case TopicMetrics::Outcome::NotFound:
      break;
  }
  return error_response(404, "TOPIC_NOT_FOUND", "Topic not found");
}

// The outcome a node answered to topic_metrics_add / _remove / _reset.
std::optional<TopicMetrics::Outcome> outcome_of(const std::optional<NodeAnswer>& a) {
  if (!a || a->status != 200) return std::nullopt;
  auto o = parse_object(a->body);
  if (!o) return std::nullopt;
  auto* r = o->if_contains("outcome");
  if (r == nullptr || !r->is_int64() || r->as_int64() < 0 || r->as_int64() > 4) return std::nullopt;
  return static_cast<TopicMetrics::Outcome>(r->as_int64());
}

NodeAnswer outcome_answer(TopicMetrics::Outcome r) {
  return json_answer(200, json::object{{"outcome", static_cast<int>(r)}});
}

Response unavailable() {
  return error_response(503, "SERVICE_UNAVAILABLE", "the node did not answer");
}

// --------------------------------------------------------------- topic metrics routes

void add_topic_metrics_routes(RouteTable& t, ClusterControl& control, const std::string& self) {
  t.add("GET", "/api/v5/mqtt/topic_metrics", "every counted topic, summed over the cluster",
        [&control](const Call&) {
          json::array data;
          for (auto& o : cluster_metrics(control, std::nullopt))
            data.push_back(std::move(o));
          return json_response(200, data);
        });
  t.add("POST", "/api/v5/mqtt/topic_metrics", "count a topic on every node: {\"topic\"}",
        [&control, self](const Call& c) {
          auto body = parse_object(c.request.body);
          if (!body) return bad_request("the body must be a JSON object {\"topic\": ...}");
          auto topic = string_arg(*body, "topic");
          if (!topic) return bad_request("topic: a topic name is required");
          if (topic->empty()) return bad_request("Topic can not be empty");
          auto r =
              outcome_of(control.ask(self, "topic_metrics_add",
                                     json::serialize(json::object{{"topic", *topic}}), kNodeWait));
          if (!r) return unavailable();
          if (*r != TopicMetrics::Outcome::Ok) return topic_outcome(*r);
          auto all = cluster_metrics(control, *topic);
          if (all.empty()) return topic_outcome(TopicMetrics::Outcome::NotFound);
          return json_response(200, std::move(all.front()));
        });
  t.add("PUT", "/api/v5/mqtt/topic_metrics",
        "reset counts: {\"action\": \"reset\", \"topic\"?} (all topics without one)",
        [&control](const Call& c) {
          auto body = parse_object(c.request.body);
          if (!body) return bad_request("the body must be a JSON object {\"action\": \"reset\"}");
          auto action = string_arg(*body, "action");
          if (!action || *action != "reset") return bad_request("action: must be \"reset\"");
          auto topic = string_arg(*body, "topic");
          json::object args;
          if (topic) args["topic"] = *topic;
          bool found = !topic.has_value();
          for (const auto& v : ask_all(control, "topic_metrics_reset", args)) {
            auto* r = v.is_object() ? v.as_object().if_contains("outcome") : nullptr;
            if (r != nullptr && r->is_int64() &&
                r->as_int64() == static_cast<int>(TopicMetrics::Outcome::Ok)) {
              found = true;
            }
          }
          if (!found) return topic_outcome(TopicMetrics::Outcome::NotFound);
          json::array data;
          for (auto& o : cluster_metrics(control, topic))
            data.push_back(std::move(o));
          if (topic && !data.empty()) return json_response(200, data.front());
          return json_response(200, data);
        });
  t.add("GET", "/api/v5/mqtt/topic_metrics/{topic}", "one counted topic, summed over the cluster",
        [&control](const Call& c) {
          auto all = cluster_metrics(control, c.params[0]);
          if (all.empty()) return topic_outcome(TopicMetrics::Outcome::NotFound);
          return json_response(200, std::move(all.front()));
        });
  t.add("DELETE", "/api/v5/mqtt/topic_metrics/{topic}", "stop counting a topic, on every node",
        [&control, self](const Call& c) {
          auto r = outcome_of(control.ask(self, "topic_metrics_remove",
                                          json::serialize(json::object{{"topic", c.params[0]}}),
                                          kNodeWait));
          if (!r) return unavailable();
          return topic_outcome(*r);
        });
}

// --------------------------------------------------------------- slow subscriptions routes

void add_slow_subs_routes(RouteTable& t, ClusterControl& control, const std::string& self) {
  t.add(
      "GET", "/api/v5/slow_subscriptions",
      "the slowest subscriptions of the cluster, largest latency first", [&control](const Call& c) {
        std::size_t page = 1, limit = 0;
        if (auto bad = paging(c.target, page, limit)) return *bad;
        std::vector<json::object> all;
        for (auto& v : ask_all(control, "slow_subs", {})) {
          auto* data = v.is_object() ? v.as_object().if_contains("data") : nullptr;
          if (data == nullptr || !data->is_array()) continue;
          for (auto& o : data->as_array()) {
            if (o.is_object()) all.push_back(std::move(o.as_object()));
          }
        }
        auto span = [](const json::object& o) {
          auto* v = o.if_contains("timespan");
          return v != nullptr && v->is_int64() ? v->as_int64() : 0;
        };
        std::stable_sort(all.begin(), all.end(), [&](const json::object& a, const json::object& b) {
          return span(a) > span(b);
        });
        if (all.size() > SlowSubs::kMaxSize) all.resize(SlowSubs::kMaxSize);
        json::array data;
        for (std::size_t i = (page - 1) * limit; i < all.size() && data.size() < limit; ++i)
          data.push_back(std::move(all[i]));
        return json_response(200, json::object{{"data", std::move(data)},
                                               {"meta", page_meta(page, limit, all.size())}});
      });
  t.add("DELETE", "/api/v5/slow_subscriptions", "forget the records of every node",
        [&control](const Call&) {
          ask_all(control, "slow_subs_clear", {});
          return no_content();
        });
  t.add("GET", "/api/v5/slow_subscriptions/settings", "the slow_subs settings in force",
        [&control, self](const Call&) {
          auto a = control.ask(self, "slow_subs_settings", "{}", kNodeWait);
          if (!a) return unavailable();
          return relay(*a);
        });
  t.add("PUT", "/api/v5/slow_subscriptions/settings",
        "new slow_subs settings for every node: {enable, threshold, expire_interval, "
        "top_k_num, stats_type}",
        [&control, self](const Call& c) {
          auto a = control.ask(self, "slow_subs_settings", c.request.body, kNodeWait);
          if (!a) return unavailable();
          return relay(*a);
        });
}

}  // namespace

void add_topic_stats_routes(RouteTable& t, ClusterControl& control, const std::string& self) {
  add_topic_metrics_routes(t, control, self);
  add_slow_subs_routes(t, control, self);
}

void add_topic_stats_ops(NodeOps& ops, session::NodeState& node) {
  // Each takes its arguments as a JSON object.
  auto with_args = [](auto f) {
    return [f = std::move(f)](const std::string& text) -> NodeAnswer {
      auto a = parse_object(text.empty() ? std::string_view("{}") : std::string_view(text));
      if (!a) return error_answer(400, "BAD_REQUEST", "arguments: a JSON object");
      return f(*a, text);
    };
  };
  ops.add("topic_metrics", with_args([&node](const json::object& a, const std::string&) {
            json::array data;
            for (const auto& s : node.topic_metrics.samples(string_arg(a, "topic")))
              data.push_back(sample_json(s));
            return json_answer(200, json::object{{"data", std::move(data)}});
          }));
  ops.add("topic_metrics_add", with_args([&node](const json::object& a, const std::string&) {
            auto topic = string_arg(a, "topic");
            if (!topic) return error_answer(400, "BAD_REQUEST", "topic: required");
            return outcome_answer(node.topic_metrics.add(*topic));
          }));
  ops.add("topic_metrics_remove", with_args([&node](const json::object& a, const std::string&) {
            auto topic = string_arg(a, "topic");
            if (!topic) return error_answer(400, "BAD_REQUEST", "topic: required");
            return outcome_answer(node.topic_metrics.remove(*topic));
          }));
  ops.add("topic_metrics_reset", with_args([&node](const json::object& a, const std::string&) {
            return outcome_answer(
                node.topic_metrics.reset(string_arg(a, "topic"), mqtt::wall_ms_now()));
          }));
  ops.add("slow_subs", with_args([&node](const json::object&, const std::string&) {
            json::array data;
            for (const auto& r : node.slow_subs.list(mqtt::wall_ms_now())) {
              data.push_back(json::object{{"clientid", r.clientid},
                                          {"node", node.config.node.name},
                                          {"topic", r.topic},
                                          {"timespan", r.timespan},
                                          {"last_update_time", r.last_update_ms}});
            }
            return json_answer(200, json::object{{"data", std::move(data)}});
          }));
  ops.add("slow_subs_clear", with_args([&node](const json::object&, const std::string&) {
            node.slow_subs.clear();
            return json_answer(200, json::object{});
          }));
  // {} reads the settings; anything else is new settings, written for the cluster.
  ops.add("slow_subs_settings", with_args([&node](const json::object& a, const std::string& text) {
            auto& slow = node.slow_subs;
            if (!a.empty()) {
              std::string error;
              auto s = SlowSubs::from_json(text, slow.settings(), error);
              if (!s) return error_answer(400, "BAD_REQUEST", error);
              if (!slow.put(*s)) {
                return error_answer(500, "INTERNAL_ERROR", "the settings could not be stored");
              }
            }
            auto v = json::parse(SlowSubs::to_json(slow.settings()));
            return json_answer(200, v);
          }));
}

}  // namespace emqxd::api
