#include "api/route_table.hpp"

#include "api/router.hpp"

namespace emqxd::api {

namespace {
bool is_param(const std::string& s) {
  return s.size() >= 2 && s.front() == '{' && s.back() == '}';
}
}  // namespace

void RouteTable::add(std::string method, std::string pattern, std::string summary,
                     RouteHandler handler, Access access) {
  Compiled c;
  std::string_view p = pattern;
  if (p.starts_with('/')) p.remove_prefix(1);
  while (true) {
    auto slash = p.find('/');
    c.segments.emplace_back(p.substr(0, slash));
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  routes_.push_back(
      {std::move(method), std::move(pattern), std::move(summary), std::move(handler), access});
  compiled_.push_back(std::move(c));
}

bool RouteTable::matches(std::size_t i, const std::vector<std::string>& segments,
                         std::vector<std::string>* params) const {
  const auto& pat = compiled_[i].segments;
  if (pat.size() != segments.size()) return false;
  for (std::size_t k = 0; k < pat.size(); ++k) {
    if (is_param(pat[k])) {
      if (segments[k].empty()) return false;
      if (params != nullptr) params->push_back(segments[k]);
    } else if (pat[k] != segments[k]) {
      return false;
    }
  }
  return true;
}

const Route* RouteTable::lookup(std::string_view method,
                                const std::vector<std::string>& segments) const {
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    if (routes_[i].method == method && matches(i, segments, nullptr)) return &routes_[i];
  }
  return nullptr;
}

std::optional<Response> RouteTable::dispatch(const Request& request,
                                             const boost::urls::url_view& target,
                                             const std::vector<std::string>& segments,
                                             const Caller& caller) const {
  std::string allowed;
  for (std::size_t i = 0; i < routes_.size(); ++i) {
    std::vector<std::string> params;
    if (!matches(i, segments, &params)) continue;
    if (routes_[i].method == request.method) {
      return routes_[i].handler(Call{request, target, std::move(params), caller.role, caller.name});
    }
    if (allowed.find(routes_[i].method) == std::string::npos) {
      allowed += allowed.empty() ? routes_[i].method : ", " + routes_[i].method;
    }
  }
  if (allowed.empty()) return std::nullopt;
  return method_not_allowed(allowed);
}

}  // namespace emqxd::api
