// `emqxd cluster ...`: finds the local node's HTTP API and credentials (options, then the
// environment, then the config the node runs with), sends one request, prints the answer.
#include "app/cluster_cli.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <string_view>
#include <vector>

#include "api/api_client.hpp"

namespace emqxd::app {

namespace json = boost::json;

namespace {

// How long the CLI waits for the node's answer. A join waits on the node for the contacted
// member to answer (up to 5 s, cluster::Cluster::join), and the API thread answers one
// request at a time, so a join may also queue behind another one: 15 s covers both. The
// other requests take well under a second, unless they queue behind a join.
constexpr std::chrono::milliseconds kJoinTimeout{15'000};
constexpr std::chrono::milliseconds kRequestTimeout{10'000};

// A field as table text: strings as they are, numbers and booleans written, else "-".
std::string text_of(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return "-";
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  if (v->is_double()) return std::to_string(static_cast<std::int64_t>(v->as_double()));
  if (v->is_bool()) return v->as_bool() ? "true" : "false";
  return "-";
}

std::string number_in(const json::object& o, std::string_view group, std::string_view key) {
  const json::value* g = o.if_contains(group);
  if (g == nullptr || !g->is_object()) return "-";
  return text_of(g->as_object(), key);
}

// The cluster status as a table, then the totals.
bool print_status_table(const std::string& body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return false;
  const json::object& status = v.as_object();
  const json::value* members = status.if_contains("members");
  if (members == nullptr || !members->is_array()) return false;

  static const std::vector<std::pair<std::string, std::string>> kColumns = {
      {"NODE", "node"},     {"ADDRESS", "address"},
      {"STATE", "state"},   {"INCARNATION", "incarnation"},
      {"ROUTES", "routes"}, {"LINK", "link"}};
  std::vector<std::vector<std::string>> rows;
  std::size_t alive = 0;
  for (const json::value& m : members->as_array()) {
    if (!m.is_object()) continue;
    const json::object& member = m.as_object();
    std::vector<std::string> row;
    for (const auto& [title, key] : kColumns)
      row.push_back(text_of(member, key));
    if (text_of(member, "self") == "true") row[0] += " (self)";
    if (text_of(member, "state") == "alive") ++alive;
    rows.push_back(std::move(row));
  }
  std::vector<std::size_t> width;
  for (const auto& [title, key] : kColumns)
    width.push_back(title.size());
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  }
  auto print_row = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      line += cells[i];
      if (i + 1 < cells.size()) line += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  };

  std::printf("cluster %s, as seen from %s\n\n", text_of(status, "name").c_str(),
              text_of(status, "self").c_str());
  std::vector<std::string> titles;
  for (const auto& [title, key] : kColumns)
    titles.push_back(title);
  print_row(titles);
  for (const auto& row : rows)
    print_row(row);
  std::printf(
      "\n%zu member%s (%zu alive); routes: %s local, %s remote; "
      "forwarded: %s sent, %s received, %s dropped\n",
      rows.size(), rows.size() == 1 ? "" : "s", alive, number_in(status, "routes", "local").c_str(),
      number_in(status, "routes", "remote").c_str(), number_in(status, "forward", "sent").c_str(),
      number_in(status, "forward", "received").c_str(),
      number_in(status, "forward", "dropped").c_str());
  return true;
}

}  // namespace

int run_cluster_command(const ClusterCommand& command,
                        const std::map<std::string, std::string>& env) {
  auto target = resolve_api(command.api_options, env);
  if (!target) return kExitUsage;
  std::string method, path, body;
  if (command.action == "status") {
    method = "GET";
    path = "/api/v5/cluster";
  } else if (command.action == "leave") {
    method = "POST";
    path = "/api/v5/cluster/leave";
  } else if (command.action == "join" || command.action == "force-leave") {
    method = "POST";
    path = command.action == "join" ? "/api/v5/cluster/join" : "/api/v5/cluster/force_leave";
    body = json::serialize(json::object{{"node", command.node}});
  } else {
    std::fprintf(stderr, "emqxd: unknown cluster command '%s'\n", command.action.c_str());
    return kExitUsage;
  }

  auto answer = call_api(*target, method, path, body,
                         command.action == "join" ? kJoinTimeout : kRequestTimeout);
  if (answer.exit != kExitOk) return answer.exit;
  const api::ClientResponse& res = answer.response;
  if (command.action != "status") {
    std::string message = message_of(res);
    std::printf("%s\n", message.empty() ? "ok" : message.c_str());
    return kExitOk;
  }
  if (command.json) {
    std::printf("%s\n", res.body.c_str());
    return kExitOk;
  }
  if (!print_status_table(res.body)) {
    std::fprintf(stderr, "emqxd: unexpected answer from the node's HTTP API: %s\n",
                 res.body.substr(0, 200).c_str());
    return kExitRefused;
  }
  return kExitOk;
}

}  // namespace emqxd::app
