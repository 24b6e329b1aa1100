#pragma once
// Which definitions a node's config file put into a replicated table (rules, connectors,
// actions), so that one taken out of the file goes at that node's next start, as an
// operator expects, while one made through the API stays.
//
// The replicated table "config_seeds" holds a key per definition a config file wrote
// ("rule/<id>", "connector/<type>:<name>", "action/<type>:<name>"), its value the node whose
// file it was. At start-up a node writes its file's definitions and marks them; what it
// marked before and its file no longer has, it deletes. A change through the API takes the
// definition over (the mark goes), so that no restart undoes it by deleting it.
#include <string>
#include <vector>

#include "tables/replicated_tables.hpp"

namespace emqxd::tables {

class ConfigSeeds {
 public:
  static constexpr const char* kTable = "config_seeds";
  static constexpr std::size_t kMaxEntries = 16384;

  // Declares the table (any number of times; the first before ReplicatedTables::load(),
  // which reads only declared tables); `t` may be null (tests: no-ops).
  explicit ConfigSeeds(ReplicatedTables* t) : t_(t) {
    if (t_ != nullptr) t_->declare(kTable, kMaxEntries);
  }

  // The keys under `prefix` ("rule/") that `node`'s file marked, without the prefix.
  std::vector<std::string> marked_by(const std::string& node, const std::string& prefix) const {
    std::vector<std::string> out;
    if (t_ == nullptr) return out;
    t_->scan(kTable, prefix, [&](const std::string& key, const std::string& value) {
      if (!key.starts_with(prefix)) return false;
      if (value == node) out.push_back(key.substr(prefix.size()));
      return true;
    });
    return out;
  }
  void mark(const std::string& key, const std::string& node) {
    if (t_ != nullptr && t_->get(kTable, key) != node) t_->put(kTable, key, node);
  }
  void unmark(const std::string& key) {
    if (t_ != nullptr && t_->get(kTable, key)) t_->erase(kTable, key);
  }

 private:
  ReplicatedTables* t_;
};

}  // namespace emqxd::tables
