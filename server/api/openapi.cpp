#include "api/openapi.hpp"

#include <boost/json.hpp>

namespace emqxd::api {

namespace json = boost::json;

namespace {

// "/api/v5/clients/{clientid}" -> ["clientid"]
std::vector<std::string> parameters_of(const std::string& pattern) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while ((at = pattern.find('{', at)) != std::string::npos) {
    const auto end = pattern.find('}', at);
    if (end == std::string::npos) break;
    out.push_back(pattern.substr(at + 1, end - at - 1));
    at = end + 1;
  }
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s)
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return s;
}

// The tag of a path: its first segment after /api/v5 ("clients", "trace", ...).
std::string tag_of(const std::string& pattern) {
  const std::string prefix = "/api/v5/";
  if (pattern.compare(0, prefix.size(), prefix) != 0) return "other";
  const auto rest = pattern.substr(prefix.size());
  return rest.substr(0, rest.find('/'));
}

}  // namespace

json::object openapi_document(const RouteTable& table, const std::string& version) {
  json::object paths;
  for (const auto& r : table.routes()) {
    json::object op{{"summary", r.summary},
                    {"tags", json::array{json::value(tag_of(r.pattern))}},
                    {"responses",
                     {{"200", {{"description", "done"}}},
                      {"400", {{"description", "bad request: {\"code\", \"message\"}"}}},
                      {"401", {{"description", "no or wrong credentials"}}},
                      {"403", {{"description", "a viewer key may only read (GET)"}}},
                      {"404", {{"description", "not found"}}}}}};
    json::array params;
    for (const auto& name : parameters_of(r.pattern)) {
      params.push_back(json::object{
          {"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
    }
    if (!params.empty()) op["parameters"] = std::move(params);
    if (r.method == "POST" || r.method == "PUT") {
      op["requestBody"] = {{"content", {{"application/json", {{"schema", {{"type", "object"}}}}}}}};
    }
    auto& path = paths[r.pattern];
    if (!path.is_object()) path = json::object();
    path.as_object()[lower(r.method)] = std::move(op);
  }
  return json::object{
      {"openapi", "3.0.3"},
      {"info",
       {{"title", "emqxd HTTP API"},
        {"version", version},
        {"description", "EMQX 5's /api/v5 paths as emqxd serves them (README.md, HTTP API)."}}},
      {"components",
       {{"securitySchemes", {{"basicAuth", {{"type", "http"}, {"scheme", "basic"}}}}}}},
      {"security", json::array{json::object{{"basicAuth", json::array()}}}},
      {"paths", std::move(paths)}};
}

}  // namespace emqxd::api
