#pragma once
// CoAP messages (RFC 7252, section 3): one UDP datagram, one message. Sans-I/O: a datagram
// in, a Message out, and back.
//
//   Ver(2)=1 T(2) TKL(4) | Code(8) c.dd | Message ID(16) | Token (TKL octets) |
//   Options (delta-encoded, ascending numbers) | 0xFF Payload
//
// What decode refuses (a "message format error", 4.2/4.3: the gateway answers a CON with
// RST and drops a NON): a version other than 1, a token length of 9-15, an option delta
// or length nibble of 15 outside the payload marker, an option running past the datagram,
// a payload marker with no payload, and an Empty message (code 0.00) with a token,
// options or payload. Options are kept in order as sent, values as octets; the accessors
// read the ones the gateway uses (Uri-Path, Uri-Query, Observe, Content-Format, Block1,
// Block2) and their uint encoding (RFC 7252 3.2: big-endian, shortest form).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.hpp"

namespace emqxd::gateways::coap {

enum class Type : std::uint8_t { Con = 0, Non = 1, Ack = 2, Rst = 3 };

// Option numbers (RFC 7252 5.10, RFC 7641, RFC 7959).
enum : std::uint16_t {
  kIfMatch = 1,
  kUriHost = 3,
  kETag = 4,
  kIfNoneMatch = 5,
  kObserve = 6,
  kUriPort = 7,
  kLocationPath = 8,
  kUriPath = 11,
  kContentFormat = 12,
  kMaxAge = 14,
  kUriQuery = 15,
  kAccept = 17,
  kLocationQuery = 20,
  kBlock2 = 23,
  kBlock1 = 27,
  kSize2 = 28,
  kProxyUri = 35,
  kProxyScheme = 39,
  kSize1 = 60,
  kRequestTag = 292,  // RFC 9175
};

// Codes as class * 32 + detail: 0.01 GET, 2.05 Content, 4.04 Not Found, ...
constexpr std::uint8_t code(int cls, int detail) {
  return static_cast<std::uint8_t>(cls << 5 | detail);
}
enum : std::uint8_t {
  kEmpty = 0,
  kGet = 1,
  kPost = 2,
  kPut = 3,
  kDelete = 4,
  kCreated = code(2, 1),
  kDeleted = code(2, 2),
  kValid = code(2, 3),
  kChanged = code(2, 4),
  kContent = code(2, 5),
  kContinue = code(2, 31),
  kBadRequest = code(4, 0),
  kUnauthorized = code(4, 1),
  kBadOption = code(4, 2),
  kForbidden = code(4, 3),
  kNotFound = code(4, 4),
  kMethodNotAllowed = code(4, 5),
  kRequestEntityIncomplete = code(4, 8),
  kRequestEntityTooLarge = code(4, 13),
  kInternalServerError = code(5, 0),
  kServiceUnavailable = code(5, 3),
};

// Block1 / Block2 (RFC 7959 2.2): block number, more flag, size 2^(4+szx) (16..1024).
struct Block {
  std::uint32_t num = 0;
  bool more = false;
  std::uint8_t szx = 6;  // 1024 octets
  std::size_t size() const { return std::size_t{16} << szx; }
  bool operator==(const Block&) const = default;
};

struct Message {
  Type type = Type::Con;
  std::uint8_t code = kEmpty;
  std::uint16_t id = 0;
  std::string token;                                           // 0-8 octets
  std::vector<std::pair<std::uint16_t, std::string>> options;  // ascending numbers
  std::string payload;

  bool is_request() const { return code >= 1 && code <= 31; }
  // Every value of option `number`, in order.
  std::vector<std::string_view> all(std::uint16_t number) const;
  const std::string* first(std::uint16_t number) const;
  // A uint option's value; nullopt when absent or longer than 4 octets.
  std::optional<std::uint32_t> uint_option(std::uint16_t number) const;
  std::optional<Block> block(std::uint16_t number) const;  // kBlock1 or kBlock2
  // Adds an option, keeping the numbers ascending (repeats after their kind).
  void add(std::uint16_t number, std::string value);
  void add_uint(std::uint16_t number, std::uint32_t value);
  void add_block(std::uint16_t number, const Block& b);
  // "a/b/c": the Uri-Path segments joined by '/'.
  std::string path() const;
  // The value of Uri-Query "name=value" (the first), if any.
  std::optional<std::string> query(std::string_view name) const;
  bool operator==(const Message&) const = default;
};

Result<Message> decode(std::string_view datagram);
void encode(const Message& m, std::string& out);

// The shortest big-endian octets of `v` (none for 0).
std::string uint_bytes(std::uint32_t v);

}  // namespace emqxd::gateways::coap
