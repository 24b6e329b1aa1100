#pragma once
// STOMP 1.0, 1.1 and 1.2 frames (https://stomp.github.io/stomp-specification-1.2.html,
// "STOMP Frames"): a command line, header lines, an empty line, a body, a NUL. Sans-I/O:
// bytes in, frames out, and back.
//
//   COMMAND EOL  (header-name ":" header-value EOL)*  EOL  body NUL  (EOL)*
//
// EOL is LF or CR LF. Between frames a lone EOL is a heart-beat. Header names and values
// are escaped in 1.1 and 1.2 (\r \n \c \\; anything else after a backslash is an error),
// except in CONNECT and CONNECTED frames; a repeated header keeps its first value. The
// body is content-length octets when that header is there (it may then hold NULs), else
// everything up to the first NUL.
//
// Limits (EMQX's gateway.stomp.frame keys) bound what a peer can make the parser hold:
// max_headers, max_headers_length (one header line) and max_body_length; a frame past one
// is an error, as is a command line or header section with no end in sight.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace emqxd::gateways::stomp {

struct Frame {
  std::string command;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  // The first value of header `name`, if any.
  const std::string* header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (k == name) return &v;
    }
    return nullptr;
  }
  bool operator==(const Frame&) const = default;
};

struct Limits {
  std::size_t max_headers = 10;
  std::size_t max_headers_length = 1024;
  std::size_t max_body_length = 65536;
};

// What parse found at the front of the input.
struct Parsed {
  enum class Kind { NeedMore, Heartbeat, Frame } kind = Kind::NeedMore;
  std::size_t consumed = 0;  // octets to drop from the input
  Frame frame;               // Kind::Frame
  // NeedMore with the headers read: what the frame still waits for, so that a caller need
  // not parse again before it can have come (a frame trickled in small reads costs one
  // parse per header line, not one per read): `need` octets in all (content-length), or a
  // NUL at or after `nul_from`. Both 0 while the command or headers are incomplete.
  std::size_t need = 0;
  std::size_t nul_from = 0;
};

// The most octets one frame may take under `limits`: a buffer holding more without a whole
// frame is refused.
inline std::size_t max_frame(const Limits& l) {
  return 64 + l.max_headers * (l.max_headers_length + 2) + 2 + l.max_body_length + 1;
}

// The first heart-beat or frame of `in`; NeedMore when `in` holds only part of one.
// Errc::MalformedPacket for a frame that breaks the syntax or a limit; `why` says how.
Result<Parsed> parse(std::string_view in, const Limits& limits, std::string& why);

// Appends `f` as a frame (headers escaped unless `f` is CONNECTED; content-length is the
// caller's to add).
void encode(const Frame& f, std::string& out);

}  // namespace emqxd::gateways::stomp
