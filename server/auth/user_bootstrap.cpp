#include "auth/user_bootstrap.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

namespace emqxd::auth {

namespace {

namespace json = boost::json;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// One CSV record starting at `at` (RFC 4180: quoted fields may hold commas, quotes as "",
// and line breaks). Advances `at` past its line end and `line` by the lines it spans.
std::vector<std::string> csv_record(std::string_view text, std::size_t& at, int& line,
                                    std::string_view path) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  const int first_line = line;
  while (at < text.size()) {
    char c = text[at++];
    if (quoted) {
      if (c == '"') {
        if (at < text.size() && text[at] == '"') {
          fields.back().push_back('"');
          ++at;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        fields.back().push_back(c);
      }
    } else if (c == '"' && fields.back().empty()) {
      quoted = true;
    } else if (c == ',') {
      fields.emplace_back();
    } else if (c == '\n') {
      ++line;
      break;
    } else if (c != '\r') {
      fields.back().push_back(c);
    }
  }
  if (quoted)
    throw AuthFileError(fmt::format("{}:{}: unterminated quoted field", path, first_line));
  return fields;
}

UserRecord make(std::map<std::string, std::string, std::less<>>& f, BootstrapType type,
                const PasswordAlgorithm& algo, const std::string& where) {
  UserRecord u;
  auto id = f.find("user_id");
  if (id == f.end() || id->second.empty())
    throw AuthFileError(where + ": user_id is missing or empty");
  u.user_id = id->second;
  if (type == BootstrapType::Plain) {
    auto pw = f.find("password");
    if (pw == f.end())
      throw AuthFileError(where + ": bootstrap_type = plain needs a password field");
    auto stored = hash_password(algo, pw->second);
    u.password_hash = std::move(stored.hash);
    u.salt = std::move(stored.salt);
  } else {
    auto h = f.find("password_hash");
    if (h == f.end())
      throw AuthFileError(where + ": bootstrap_type = hash needs a password_hash field");
    u.password_hash = h->second;
    if (auto s = f.find("salt"); s != f.end()) u.salt = s->second;
  }
  auto su = f.find("is_superuser");
  u.is_superuser = su != f.end() && su->second == "true";
  return u;
}

std::vector<UserRecord> from_csv(std::string_view text, std::string_view path, BootstrapType type,
                                 const PasswordAlgorithm& algo) {
  std::vector<UserRecord> out;
  std::size_t at = 0;
  int line = 1;
  // The header: the first line that is not blank.
  std::vector<std::string> header;
  while (at < text.size() && header.empty()) {
    auto r = csv_record(text, at, line, path);
    if (!(r.size() == 1 && r[0].empty())) header = std::move(r);
  }
  for (auto& h : header) {
    while (!h.empty() && h.back() == ' ')
      h.pop_back();
    while (!h.empty() && h.front() == ' ')
      h.erase(0, 1);
  }
  // A file whose header names no users' columns is a mistake, not an empty user list.
  const char* secret = type == BootstrapType::Plain ? "password" : "password_hash";
  for (const char* need : {"user_id", secret}) {
    if (std::find(header.begin(), header.end(), need) == header.end()) {
      throw AuthFileError(fmt::format("{}: the header does not name the column {}", path, need));
    }
  }
  while (at < text.size()) {
    const int this_line = line;
    auto r = csv_record(text, at, line, path);
    if (r.size() == 1 && r[0].empty()) continue;  // a blank line
    if (r.size() != header.size())
      throw AuthFileError(fmt::format("{}:{}: {} fields where the header names {}", path, this_line,
                                      r.size(), header.size()));
    std::map<std::string, std::string, std::less<>> f;
    for (std::size_t i = 0; i < r.size(); ++i)
      f[header[i]] = std::move(r[i]);
    out.push_back(make(f, type, algo, fmt::format("{}:{}", path, this_line)));
  }
  return out;
}

std::vector<UserRecord> from_json(std::string_view text, std::string_view path, BootstrapType type,
                                  const PasswordAlgorithm& algo) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec) throw AuthFileError(fmt::format("{}: not JSON: {}", path, ec.message()));
  if (!v.is_array()) throw AuthFileError(fmt::format("{}: expected a JSON array of users", path));
  std::vector<UserRecord> out;
  std::size_t i = 0;
  for (const auto& e : v.as_array()) {
    const std::string where = fmt::format("{}: user {}", path, ++i);
    if (!e.is_object()) throw AuthFileError(where + ": expected an object");
    std::map<std::string, std::string, std::less<>> f;
    for (const auto& [k, x] : e.as_object()) {
      if (x.is_string())
        f[std::string(k)] = std::string(x.as_string());
      else if (x.is_bool())
        f[std::string(k)] = x.as_bool() ? "true" : "false";
      else
        throw AuthFileError(fmt::format("{}: {} must be a string", where, std::string_view(k)));
    }
    out.push_back(make(f, type, algo, where));
  }
  return out;
}

}  // namespace

std::vector<UserRecord> parse_user_bootstrap(std::string_view text, std::string_view path,
                                             BootstrapType type, const PasswordAlgorithm& algo) {
  if (ends_with(path, ".csv")) return from_csv(text, path, type, algo);
  if (ends_with(path, ".json")) return from_json(text, path, type, algo);
  throw AuthFileError(fmt::format("{}: a bootstrap file is .csv or .json", path));
}

std::vector<UserRecord> load_user_bootstrap(const std::string& path, BootstrapType type,
                                            const PasswordAlgorithm& algo) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw AuthFileError(fmt::format("{}: cannot read the file: {}", path, std::strerror(errno)));
  std::ostringstream ss;
  ss << in.rdbuf();
  return parse_user_bootstrap(ss.str(), path, type, algo);
}

}  // namespace emqxd::auth
