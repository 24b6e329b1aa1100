#pragma once
// EMQX's ${...} placeholders in the arguments of a rule's actions (emqx_template): the
// republish action's topic, payload, QoS, retain flag and properties, and the connectors'
// URLs, bodies and SQL.
//
//   "t/${clientid}/${payload.a.b}"   text with placeholders
//   "${qos}"                         one placeholder and nothing else: value() gives the
//                                    value itself (a number, a map), not its text
//
// A placeholder is a path into the rule's output: names separated by '.', where a name
// that holds a string of JSON is read into (`payload.a` over a JSON payload), as EMQX's
// lookup does. Rendering writes each value as EMQX's emqx_utils_conv:bin does (value.hpp,
// to_text: strings as they are, numbers in decimal, maps and lists as JSON); a path that
// reads nothing renders as "undefined" (EMQX's atom), or as `missing` where the caller
// says so. "${.}" is the whole output; "$${x}" is the text "${x}". "${" without its "}" is
// a parse error, as an empty name is.
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/value.hpp"

namespace emqxd::rules {

class Template {
 public:
  Template() = default;
  // nullopt with `error` set (where and what) when `text` is not a valid template.
  static std::optional<Template> parse(std::string_view text, std::string& error);
  // A template the config already checked (connectors' senders): empty if it does not
  // parse.
  static Template checked(std::string_view text);

  const std::string& source() const { return source_; }
  bool has_placeholders() const;
  // Just one placeholder: value() returns what it reads.
  bool single() const { return parts_.size() == 1 && parts_[0].var; }

  void render(const boost::json::object& data, std::string& out,
              std::string_view missing = "undefined") const;
  std::string render(const boost::json::object& data,
                     std::string_view missing = "undefined") const {
    std::string out;
    render(data, out, missing);
    return out;
  }
  // As render(), but false (out unspecified) when some placeholder reads nothing.
  bool render_strict(const boost::json::object& data, std::string& out) const;
  // single(): the value the placeholder reads (undefined: empty); otherwise the text.
  Value value(const boost::json::object& data) const;

  // The parts in order, literal text and placeholders, for callers that type what they
  // read part by part (rules/line_protocol.hpp).
  std::size_t parts() const { return parts_.size(); }
  bool is_placeholder(std::size_t i) const { return parts_[i].var; }
  const std::string& literal(std::size_t i) const { return parts_[i].text; }  // not a placeholder
  Value read(std::size_t i, const boost::json::object& data) const;           // a placeholder

 private:
  struct Part {
    bool var = false;
    std::string text;               // literal text (var: the placeholder as written)
    std::vector<std::string> path;  // var: the names
  };
  std::string source_;
  std::vector<Part> parts_;
};

// The value at `path` (names) in `data`, reading into strings that hold JSON; nullopt when
// nothing is there.
Value lookup(const boost::json::object& data, const std::vector<std::string>& path);

}  // namespace emqxd::rules
