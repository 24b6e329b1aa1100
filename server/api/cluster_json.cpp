#include "api/cluster_json.hpp"

#include <boost/json.hpp>

namespace emqxd::api {

namespace json = boost::json;

boost::json::value to_json(const ClusterStatus& s) {
  json::array members;
  members.reserve(s.members.size());
  for (const auto& m : s.members) {
    members.push_back(json::object{{"node", m.node},
                                   {"address", m.address},
                                   {"state", m.state},
                                   {"incarnation", m.incarnation},
                                   {"self", m.self},
                                   {"routes", m.routes},
                                   {"link", m.link_up ? "up" : "down"},
                                   {"queued", m.queued}});
  }
  return json::object{
      {"name", s.name},
      {"self", s.self},
      {"members", std::move(members)},
      {"routes", json::object{{"local", s.routes.local}, {"remote", s.routes.remote}}},
      {"forward", json::object{{"sent", s.forward.sent},
                               {"received", s.forward.received},
                               {"dropped", s.forward.dropped},
                               {"queued", s.forward.queued}}},
      {"sessions", json::object{{"takeovers_in", s.sessions.takeovers_in},
                                {"takeovers_out", s.sessions.takeovers_out}}}};
}

boost::json::value to_json(const RouteList& r) {
  json::array data;
  data.reserve(r.data.size());
  for (const auto& e : r.data)
    data.push_back(json::object{{"topic", e.topic}, {"node", e.node}});
  return json::object{{"data", std::move(data)}, {"meta", json::object{{"count", r.count}}}};
}

}  // namespace emqxd::api
