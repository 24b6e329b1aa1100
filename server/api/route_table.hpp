#pragma once
// RouteTable: the HTTP API's paths, each a method, a pattern and a handler. The router
// authenticates, then asks the table; the same table will give the OpenAPI document.
//
// A pattern is a path of literal segments and {name} segments ("/api/v5/banned/{as}/{who}");
// a {name} takes any one non-empty segment, %-decoded, handed to the handler in order. A
// path that matches a pattern with another method is a 405 naming the methods it has.
#include <boost/url/url_view.hpp>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/api_keys.hpp"
#include "api/http.hpp"

namespace emqxd::api {

// Who made a request, as the router authenticated them.
struct Caller {
  Role role = Role::Viewer;
  std::string name;  // the dashboard user or the API key; empty on an open route
};

struct Call {
  const Request& request;
  const boost::urls::url_view& target;
  std::vector<std::string> params;  // the {name} segments, in order
  Role role;
  const std::string& user;  // Caller::name
};
using RouteHandler = std::function<Response(const Call&)>;

// Who may call a route: Administrator (the default) is every caller for GET and
// administrators for anything else; Open needs no credentials (POST /api/v5/login);
// Anyone is every authenticated caller whatever the method, the handler deciding (a
// viewer changing their own password).
enum class Access { Administrator, Open, Anyone };

struct Route {
  std::string method;   // "GET", "POST", "PUT", "DELETE"
  std::string pattern;  // "/api/v5/authentication/{id}/users"
  std::string summary;  // one line, for the OpenAPI document
  RouteHandler handler;
  Access access = Access::Administrator;
};

class RouteTable {
 public:
  void add(std::string method, std::string pattern, std::string summary, RouteHandler handler,
           Access access = Access::Administrator);
  // The answer of the route that matches `segments` (the decoded path) and the method; a
  // 405 when only the method is wrong; nullopt when no pattern matches the path.
  std::optional<Response> dispatch(const Request& request, const boost::urls::url_view& target,
                                   const std::vector<std::string>& segments,
                                   const Caller& caller) const;
  // The route that matches the method and path, or null.
  const Route* lookup(std::string_view method, const std::vector<std::string>& segments) const;
  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct Compiled {
    std::vector<std::string> segments;  // "{...}" marks a parameter
  };
  std::vector<Route> routes_;
  std::vector<Compiled> compiled_;
  bool matches(std::size_t i, const std::vector<std::string>& segments,
               std::vector<std::string>* params) const;
};

}  // namespace emqxd::api
