// libFuzzer harness for the HTTP API's request handling (server/api/): the bytes a client
// sends on a connection, parsed by Beast's HTTP/1.1 request parser with the server's limits
// and handed, request after request (keep-alive), to the Router as api_server.cpp does,
// with a fake cluster behind it. Nothing a client sends may crash the node, and the Router
// answers everything without throwing (router.hpp).
//
// The input is the byte stream of one connection. Credentials are admin/public
// ("Authorization: Basic YWRtaW46cHVibGlj"), hashed with one PBKDF2 iteration for speed.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "api/credentials.hpp"
#include "api/router.hpp"
#include "config/config.hpp"
#include "session/node_state.hpp"

namespace http = boost::beast::http;
using emqxd::api::ClusterControl;

namespace {

class FakeControl final : public ClusterControl {
 public:
  Outcome join(const std::string& node) override { return {node.size() % 2 ? 200 : 503, node}; }
  Outcome leave() override { return {200, "left the cluster"}; }
  Outcome force_leave(const std::string& node) override { return {404, "unknown node " + node}; }
  emqxd::api::ClusterStatus status() override {
    emqxd::api::ClusterStatus st;
    st.name = "c";
    st.self = "n1@h";
    st.members.push_back({.node = "n1@h", .address = "n1@h:4370", .state = "alive", .self = true});
    return st;
  }
  std::vector<std::string> running_nodes() override { return {"n1@h"}; }
  std::optional<emqxd::api::NodeAnswer> ask(const std::string& node, const std::string&,
                                            const std::string& args,
                                            std::chrono::milliseconds) override {
    // Echoes the arguments, as a node would answer with JSON of its own.
    if (node != "n1@h") return std::nullopt;
    return emqxd::api::NodeAnswer{200, R"({"count":1,"data":[)" + args + "]}"};
  }
  emqxd::api::RouteList routes(const std::string& topic, std::size_t limit) override {
    emqxd::api::RouteList r;
    if (limit > 0) r.data.push_back({topic.empty() ? "t/#" : topic, "n1@h"});
    r.count = 1;
    return r;
  }
};

struct Api {
  static emqxd::config::Config config() {
    emqxd::config::Config c;
    c.node.name = "n1@127.0.0.1";
    return c;
  }
  Api()
      : state(config()),
        credentials(emqxd::api::Credentials::make("admin", "public", 1)),
        router(state, credentials, control, options()) {
    spdlog::set_level(spdlog::level::off);  // failed logins are logged
  }
  // No lockout: a run's outcome must not depend on what earlier inputs failed.
  static emqxd::api::RouterOptions options() {
    emqxd::api::RouterOptions o;
    o.login.max_attempts = 1'000'000;
    return o;
  }
  FakeControl control;
  emqxd::session::NodeState state;
  emqxd::api::Credentials credentials;
  emqxd::api::Router router;
};

// The server's limits (api_server.hpp, ServerOptions).
constexpr std::size_t kHeaderLimit = 8 * 1024;
constexpr std::size_t kBodyLimit = 1024 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Api* api = new Api;  // built once: a NodeState is not cheap
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kHeaderLimit));
    parser.body_limit(static_cast<std::uint64_t>(kBodyLimit));
    parser.eager(true);
    boost::system::error_code ec;
    while (!parser.is_done()) {
      std::size_t n = parser.put(boost::asio::buffer(rest.data(), rest.size()), ec);
      rest.remove_prefix(n);
      if (ec == http::error::need_more) {
        // Everything the client sent is in: what is missing never comes.
        ec = {};
        parser.put_eof(ec);
        break;
      }
      if (ec || n == 0) break;
    }
    if (ec || !parser.is_done()) return 0;  // the server answers 400 and closes
    auto req = parser.release();
    emqxd::api::Request r;  // as api_server.cpp's on_request builds it
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    if (auto it = req.find(http::field::authorization); it != req.end()) {
      r.authorization = std::string(it->value());
    }
    r.body = std::move(req.body());
    r.peer = "127.0.0.1:1";
    emqxd::api::Response res = api->router.handle(r);
    if (res.status < 100 || res.status > 599) std::abort();
    if (!req.keep_alive()) return 0;
  }
  return 0;
}
