#include "api/api_keys.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

namespace emqxd::api {

namespace {

bool key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_';
}

}  // namespace

std::vector<ApiKey> parse_api_keys(std::string_view text, const std::string& name, int iterations) {
  std::vector<ApiKey> keys;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto fail = [&](const std::string& why) {
      throw std::runtime_error(name + ":" + std::to_string(line_no) + ": " + why);
    };
    std::string_view trimmed = line;
    while (!trimmed.empty() && (trimmed.front() == ' ' || trimmed.front() == '\t'))
      trimmed.remove_prefix(1);
    if (trimmed.empty() || trimmed.front() == '#') continue;
    auto c1 = line.find(':');
    if (c1 == std::string_view::npos) fail("expected key:secret[:role]");
    std::string_view key = line.substr(0, c1);
    std::string_view rest = line.substr(c1 + 1);
    auto c2 = rest.find(':');
    std::string_view secret = rest.substr(0, c2);
    std::string_view role_text =
        c2 == std::string_view::npos ? std::string_view{} : rest.substr(c2 + 1);
    if (key.empty() || !std::all_of(key.begin(), key.end(), key_char)) {
      fail("the key must be letters, digits, '-' and '_'");
    }
    if (secret.size() < 3 || secret.size() > 128 ||
        secret.find_first_of(" \t") != std::string_view::npos) {
      fail("the secret of key '" + std::string(key) +
           "' must be 3 to 128 characters, without ':' or spaces");
    }
    Role role = Role::Administrator;
    if (c2 != std::string_view::npos) {
      if (role_text == "viewer") {
        role = Role::Viewer;
      } else if (role_text != "administrator") {
        fail("the role of key '" + std::string(key) +
             "' must be administrator or viewer (EMQX's roles), got '" +
             std::string(role_text.substr(0, 40)) + "'");
      }
    }
    for (const auto& k : keys) {
      if (k.credentials.username() == key) fail("key '" + std::string(key) + "' given twice");
    }
    keys.push_back({Credentials::make(std::string(key), secret, iterations), role});
  }
  return keys;
}

std::vector<ApiKey> load_api_keys(const std::string& path, int iterations) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw std::runtime_error("api_key.bootstrap_file: cannot read " + path + ": " +
                             std::strerror(errno));
  }
  // Read in one piece into a buffer of the file's size, so that no copy of the secrets is
  // left behind by a growing buffer; it is wiped below.
  in.seekg(0, std::ios::end);
  auto size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size < 0 || size > 16 * 1024 * 1024) {
    throw std::runtime_error("api_key.bootstrap_file: " + path +
                             ": not a readable file of at most 16 MiB");
  }
  std::string text(static_cast<std::size_t>(size), '\0');
  in.read(text.data(), size);
  text.resize(static_cast<std::size_t>(in.gcount()));
  try {
    auto keys = parse_api_keys(text, path, iterations);
    wipe(text);
    return keys;
  } catch (const std::runtime_error& e) {
    wipe(text);
    throw std::runtime_error(std::string("api_key.bootstrap_file: ") + e.what());
  }
}

}  // namespace emqxd::api
