#pragma once
// InfluxDB line protocol templates: the write_syntax of EMQX's influxdb action
// (connectors/influxdb.hpp writes what they render).
//
//   measurement[,tag_key=tag_value...] field_key=field_value[,...] [timestamp]
//
// One point per line, any number of lines; each rule output writes them all. Every part is
// a template (rules/template.hpp). The syntax, its escapes and the typing of the values
// are EMQX's (its write_syntax parser and its connector's typing):
//   - escapes: '\,' and '\ ' in the measurement; '\,', '\=' and '\ ' in keys, tag values
//     and unquoted field values; '\"' and '\\' in a quoted field value. An unescaped
//     separator where it cannot be is an error, said at config time.
//   - a tag value is text. A field value is typed by what is written and what it reads:
//       "..."               a string
//       12, -1.5            a float; 12i an integer, 12u an unsigned one
//       t T true True TRUE, f F false False FALSE: a boolean
//       ${x}                reading a number: a float; a boolean, or text spelling one as
//                           above: a boolean; anything else: a string of its text
//       ${x}i, ${x}u        reading an integer: an integer (unsigned); else a string
//       anything else       a string of its text
//     (EMQX writes a literal `true` as the string "true"; emqxd as the boolean the line
//     protocol reads it as. docs/connectors.md lists the differences.)
//   - a tag or a field whose key or value starts with a placeholder that reads nothing is
//     left out; a point left without fields is an error.
//   - the timestamp: none is ${timestamp} (the message's, in ms) converted to the action's
//     precision; written, it is an integer or one placeholder that reads one, taken to be
//     in that precision.
// What the data holds is escaped as it is written (a topic with a space or a comma, a
// client id with a line break): a message never adds a point, a tag or a field.
#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/template.hpp"

namespace emqxd::rules {

enum class Precision { Ns, Us, Ms, S };
std::optional<Precision> precision_from(std::string_view name);  // "ns", "us", "ms", "s"

class LineProtocol {
 public:
  // nullopt with `error` (which line, what) when `text` is no write_syntax.
  static std::optional<LineProtocol> parse(std::string_view text, std::string& error);

  // Appends the points of one rule output to `out`, each line ending in '\n'. False, with
  // `error` set and nothing appended, when a point cannot be written (no field, a timestamp
  // that is no integer).
  bool render(const boost::json::object& data, Precision precision, std::string& out,
              std::string& error) const;

  std::size_t lines() const { return lines_.size(); }

 private:
  enum class Kind { String, Float, Int, UInt, Bool, Typed };  // Typed: by what it reads
  struct FieldValue {
    Kind kind = Kind::Typed;
    Template t;             // String, Typed: the value; Int/UInt with a placeholder: ${x}
    std::string constant;   // Float, Int, UInt, Bool written as they are
    bool suffixed = false;  // ${x}i or ${x}u: Int / UInt read from t, else the text
  };
  struct Line {
    Template measurement;
    std::vector<std::pair<Template, Template>> tags;
    std::vector<std::pair<Template, FieldValue>> fields;
    std::optional<Template> timestamp;  // none: the message's, in ms
  };
  std::vector<Line> lines_;
};

}  // namespace emqxd::rules
