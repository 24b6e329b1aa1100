#include "api/control.hpp"

#include <future>

namespace emqxd::api {

std::vector<std::optional<NodeAnswer>> ask_each(ClusterControl& control,
                                                const std::vector<std::string>& nodes,
                                                const std::string& name,
                                                const std::vector<std::string>& args,
                                                std::chrono::milliseconds deadline) {
  std::vector<std::future<std::optional<NodeAnswer>>> pending;
  for (std::size_t i = 1; i < nodes.size(); ++i) {
    pending.push_back(std::async(std::launch::async,
                                 [&control, &node = nodes[i], &name, &body = args[i], deadline] {
                                   try {
                                     return control.ask(node, name, body, deadline);
                                   } catch (...) {
                                     return std::optional<NodeAnswer>();
                                   }
                                 }));
  }
  std::vector<std::optional<NodeAnswer>> out;
  out.reserve(nodes.size());
  if (!nodes.empty()) {
    try {
      out.push_back(control.ask(nodes[0], name, args[0], deadline));
    } catch (...) {
      out.emplace_back();
    }
  }
  for (auto& f : pending)
    out.push_back(f.get());  // each ask is bounded by `deadline`
  return out;
}

std::vector<std::optional<NodeAnswer>> ask_each(ClusterControl& control,
                                                const std::vector<std::string>& nodes,
                                                const std::string& name, const std::string& args,
                                                std::chrono::milliseconds deadline) {
  return ask_each(control, nodes, name, std::vector<std::string>(nodes.size(), args), deadline);
}

}  // namespace emqxd::api
