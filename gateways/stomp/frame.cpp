// STOMP frames (frame.hpp).
#include "gateways/stomp/frame.hpp"

#include <algorithm>
#include <charconv>

namespace emqxd::gateways::stomp {

namespace {

// The commands of the specification, client's and server's.
constexpr std::string_view kCommands[] = {
    "CONNECT", "STOMP", "SEND",       "SUBSCRIBE", "UNSUBSCRIBE", "ACK",     "NACK", "BEGIN",
    "COMMIT",  "ABORT", "DISCONNECT", "CONNECTED", "MESSAGE",     "RECEIPT", "ERROR"};

// One line without its EOL (LF or CR LF); nullopt when `in` has no LF from `at` within
// `max` octets... or at all (need_more).
std::optional<std::string_view> line_at(std::string_view in, std::size_t at, std::size_t& next) {
  const auto lf = in.find('\n', at);
  if (lf == std::string_view::npos) return std::nullopt;
  auto line = in.substr(at, lf - at);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  next = lf + 1;
  return line;
}

bool unescape(std::string_view s, std::string& out) {
  out.clear();
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out.push_back(s[i]);
      continue;
    }
    if (++i == s.size()) return false;
    switch (s[i]) {
      case 'r':
        out.push_back('\r');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'c':
        out.push_back(':');
        break;
      case '\\':
        out.push_back('\\');
        break;
      default:
        return false;  // "undefined escape sequences MUST be treated as fatal"
    }
  }
  return true;
}

void escape(std::string_view s, std::string& out) {
  for (char c : s) {
    switch (c) {
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case ':':
        out += "\\c";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        out.push_back(c);
    }
  }
}

}  // namespace

Result<Parsed> parse(std::string_view in, const Limits& limits, std::string& why) {
  Parsed p;
  if (in.empty()) return p;
  // A heart-beat: a lone EOL between frames.
  if (in[0] == '\n') {
    p.kind = Parsed::Kind::Heartbeat;
    p.consumed = 1;
    return p;
  }
  if (in[0] == '\r') {
    if (in.size() < 2) return p;
    if (in[1] != '\n') {
      why = "a CR not followed by LF";
      return Errc::MalformedPacket;
    }
    p.kind = Parsed::Kind::Heartbeat;
    p.consumed = 2;
    return p;
  }
  const std::size_t max_head = 64 + limits.max_headers * (limits.max_headers_length + 2);
  std::size_t at = 0;
  auto command = line_at(in, 0, at);
  if (!command) {
    if (in.size() > 64) {
      why = "a command line longer than 64 octets";
      return Errc::MalformedPacket;
    }
    return p;
  }
  if (std::find(std::begin(kCommands), std::end(kCommands), *command) == std::end(kCommands)) {
    why = "unknown command";
    return Errc::MalformedPacket;
  }
  Frame f;
  f.command = std::string(*command);
  const bool raw = f.command == "CONNECT" || f.command == "CONNECTED" || f.command == "STOMP";
  std::string name, value;
  while (true) {
    std::size_t next = 0;
    auto line = line_at(in, at, next);
    if (!line) {
      if (in.size() - at > limits.max_headers_length || in.size() > max_head) {
        why = "a header longer than max_headers_length";
        return Errc::MalformedPacket;
      }
      return p;  // NeedMore
    }
    at = next;
    if (line->empty()) break;
    if (line->size() > limits.max_headers_length) {
      why = "a header longer than max_headers_length";
      return Errc::MalformedPacket;
    }
    const auto colon = line->find(':');
    if (colon == std::string_view::npos || colon == 0) {
      why = "a header line without a name and a colon";
      return Errc::MalformedPacket;
    }
    if (raw) {
      name.assign(line->substr(0, colon));
      value.assign(line->substr(colon + 1));
    } else if (!unescape(line->substr(0, colon), name) ||
               !unescape(line->substr(colon + 1), value)) {
      why = "an undefined escape sequence in a header";
      return Errc::MalformedPacket;
    }
    // A repeated header: only the first value counts; it still counts towards the limit.
    if (f.headers.size() >= limits.max_headers) {
      why = "more headers than max_headers";
      return Errc::MalformedPacket;
    }
    f.headers.emplace_back(name, value);
  }
  // The body: content-length octets then NUL, or up to the first NUL.
  std::size_t body_end = 0;
  if (const auto* cl = f.header("content-length")) {
    std::size_t n = 0;
    auto [ptr, ec] = std::from_chars(cl->data(), cl->data() + cl->size(), n);
    if (ec != std::errc() || ptr != cl->data() + cl->size()) {
      why = "content-length is not a number";
      return Errc::MalformedPacket;
    }
    if (n > limits.max_body_length) {
      why = "a body longer than max_body_length";
      return Errc::MalformedPacket;
    }
    if (in.size() < at + n + 1) {
      p.need = at + n + 1;
      return p;
    }
    if (in[at + n] != '\0') {
      why = "no NUL after content-length octets";
      return Errc::MalformedPacket;
    }
    body_end = at + n;
  } else {
    const auto nul = in.find('\0', at);
    if (nul == std::string_view::npos) {
      if (in.size() - at > limits.max_body_length) {
        why = "a body longer than max_body_length";
        return Errc::MalformedPacket;
      }
      p.nul_from = in.size();
      return p;
    }
    if (nul - at > limits.max_body_length) {
      why = "a body longer than max_body_length";
      return Errc::MalformedPacket;
    }
    body_end = nul;
  }
  f.body.assign(in.substr(at, body_end - at));
  p.kind = Parsed::Kind::Frame;
  p.consumed = body_end + 1;
  p.frame = std::move(f);
  return p;
}

void encode(const Frame& f, std::string& out) {
  out += f.command;
  out.push_back('\n');
  const bool raw = f.command == "CONNECTED";
  for (const auto& [k, v] : f.headers) {
    if (raw) {
      out += k;
      out.push_back(':');
      out += v;
    } else {
      escape(k, out);
      out.push_back(':');
      escape(v, out);
    }
    out.push_back('\n');
  }
  out.push_back('\n');
  out += f.body;
  out.push_back('\0');
}

}  // namespace emqxd::gateways::stomp
