#include "cluster/node_address.hpp"

#include <algorithm>
#include <charconv>

namespace emqxd::cluster {
namespace {

constexpr std::size_t kMaxNameLen = 255;
constexpr std::size_t kMaxHostLen = 253;  // the longest DNS name

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool is_hex(char c) {
  return (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9');
}
bool is_word(char c) {
  return is_alnum(c) || c == '_' || c == '-' || c == '.';
}

std::string quoted(char c) {
  if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return "a control character";
  if (c == ' ') return "a space";
  return std::string("'") + c + "'";
}

bool set_why(std::string* why, std::string text) {
  if (why != nullptr) *why = std::move(text);
  return false;
}

// A DNS name or an IPv4 address: labels of letters, digits, '-' and '_' between dots.
bool valid_plain_host(std::string_view host, std::string* why) {
  if (host.empty()) return set_why(why, "the host after '@' is empty");
  if (host.size() > kMaxHostLen) {
    return set_why(why, "the host is longer than " + std::to_string(kMaxHostLen) + " characters");
  }
  for (char c : host) {
    if (!is_word(c)) {
      return set_why(why, "the host has " + quoted(c) +
                              " (letters, digits, '-', '_' and '.' only; IPv6 goes in brackets)");
    }
  }
  if (host.front() == '.' || host.back() == '.' || host.find("..") != std::string_view::npos) {
    return set_why(why, "the host has an empty label between dots");
  }
  return true;
}

// The inside of [...]: hex digits, ':' and '.', at least one ':', an optional %zone.
bool valid_ipv6(std::string_view host, std::string* why) {
  std::string_view addr = host.substr(0, host.find('%'));
  bool ok = addr.find(':') != std::string_view::npos &&
            std::all_of(addr.begin(), addr.end(),
                        [](char c) { return is_hex(c) || c == ':' || c == '.'; });
  if (ok && addr.size() < host.size()) {
    std::string_view zone = host.substr(addr.size() + 1);
    ok = !zone.empty() && std::all_of(zone.begin(), zone.end(), is_word);
  }
  if (!ok) return set_why(why, "\"[" + std::string(host) + "]\" is not an IPv6 address");
  return true;
}

bool parse_port(std::string_view text, std::uint16_t& port, std::string* why) {
  if (text.empty()) return set_why(why, "the port after ':' is empty");
  if (text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return set_why(why, "the port \"" + std::string(text) + "\" is not a number from 1 to 65535");
  }
  unsigned long n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);  // five digits at most: fits
  if (n < 1 || n > 65535) {
    return set_why(why, "the port " + std::to_string(n) + " is out of range 1-65535");
  }
  port = static_cast<std::uint16_t>(n);
  return true;
}

}  // namespace

std::optional<NodeAddress> NodeAddress::parse(std::string_view text, std::string* why) {
  NodeAddress a;
  auto at = text.find('@');
  if (at == std::string_view::npos) {
    set_why(why, "no '@' (expected name@host or name@host:port)");
    return std::nullopt;
  }
  std::string_view name = text.substr(0, at);
  std::string_view rest = text.substr(at + 1);
  if (name.empty()) {
    set_why(why, "the name before '@' is empty");
    return std::nullopt;
  }
  if (name.size() > kMaxNameLen) {
    set_why(why, "the name is longer than " + std::to_string(kMaxNameLen) + " characters");
    return std::nullopt;
  }
  for (char c : name) {
    if (!is_word(c)) {
      set_why(why, "the name has " + quoted(c) + " (letters, digits, '_', '-' and '.' only)");
      return std::nullopt;
    }
  }
  a.name = name;

  std::string_view host;
  std::string_view port;
  bool has_port = false;
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    if (close == std::string_view::npos) {
      set_why(why, "'[' with no closing ']'");
      return std::nullopt;
    }
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        set_why(why, "'" + std::string(after) + "' after ']' (expected :port)");
        return std::nullopt;
      }
      port = after.substr(1);
      has_port = true;
    }
    if (!valid_ipv6(host, why)) return std::nullopt;
  } else {
    auto colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      has_port = true;
      if (port.find(':') != std::string_view::npos) {
        set_why(why, "an IPv6 host must be in brackets, as in name@[::1]:4370");
        return std::nullopt;
      }
    }
    if (host.find('@') != std::string_view::npos) {
      set_why(why, "more than one '@'");
      return std::nullopt;
    }
    if (!valid_plain_host(host, why)) return std::nullopt;
  }
  a.host = host;
  if (has_port && !parse_port(port, a.port, why)) return std::nullopt;
  return a;
}

std::string NodeAddress::id() const {
  bool v6 = host.find(':') != std::string::npos;
  return name + (v6 ? "@[" + host + "]" : "@" + host);
}

std::string NodeAddress::to_string() const {
  return id() + ":" + std::to_string(port);
}

std::string NodeAddress::endpoint() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace emqxd::cluster

std::size_t std::hash<emqxd::cluster::NodeAddress>::operator()(
    const emqxd::cluster::NodeAddress& a) const noexcept {
  std::size_t h = std::hash<std::string>{}(a.name);
  h ^= std::hash<std::string>{}(a.host) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= std::hash<std::uint16_t>{}(a.port) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}
