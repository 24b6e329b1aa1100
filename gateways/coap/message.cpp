// CoAP messages (message.hpp).
#include "gateways/coap/message.hpp"

#include <algorithm>

namespace emqxd::gateways::coap {

namespace {

// An option delta or length (RFC 7252 3.1): a nibble, or 13 + one octet, or 269 + two.
bool read_ext(std::string_view& rest, std::uint32_t nibble, std::uint32_t& out) {
  if (nibble < 13) {
    out = nibble;
    return true;
  }
  if (nibble == 13) {
    if (rest.empty()) return false;
    out = 13 + static_cast<std::uint8_t>(rest[0]);
    rest.remove_prefix(1);
    return true;
  }
  if (nibble == 14) {
    if (rest.size() < 2) return false;
    out = 269 + (static_cast<std::uint32_t>(static_cast<std::uint8_t>(rest[0])) << 8 |
                 static_cast<std::uint8_t>(rest[1]));
    rest.remove_prefix(2);
    return true;
  }
  return false;  // 15: reserved outside the payload marker
}

std::uint8_t nibble_of(std::uint32_t v) {
  return v < 13 ? static_cast<std::uint8_t>(v) : v < 269 ? 13 : 14;
}

void put_ext(std::string& out, std::uint32_t v) {
  if (v < 13) return;
  if (v < 269) {
    out.push_back(static_cast<char>(v - 13));
    return;
  }
  out.push_back(static_cast<char>((v - 269) >> 8));
  out.push_back(static_cast<char>((v - 269) & 0xFF));
}

}  // namespace

std::string uint_bytes(std::uint32_t v) {
  std::string out;
  for (int shift = 24; shift >= 0; shift -= 8) {
    if (out.empty() && (v >> shift) == 0) continue;
    out.push_back(static_cast<char>((v >> shift) & 0xFF));
  }
  return out;
}

Result<Message> decode(std::string_view d) {
  if (d.size() < 4) return Errc::MalformedPacket;
  const auto b0 = static_cast<std::uint8_t>(d[0]);
  if ((b0 >> 6) != 1) return Errc::MalformedPacket;
  Message m;
  m.type = static_cast<Type>((b0 >> 4) & 3);
  const std::size_t tkl = b0 & 0x0F;
  if (tkl > 8) return Errc::MalformedPacket;
  m.code = static_cast<std::uint8_t>(d[1]);
  m.id = static_cast<std::uint16_t>(static_cast<std::uint8_t>(d[2]) << 8 |
                                    static_cast<std::uint8_t>(d[3]));
  std::string_view rest = d.substr(4);
  if (rest.size() < tkl) return Errc::MalformedPacket;
  m.token.assign(rest.substr(0, tkl));
  rest.remove_prefix(tkl);
  std::uint32_t number = 0;
  while (!rest.empty()) {
    const auto b = static_cast<std::uint8_t>(rest[0]);
    rest.remove_prefix(1);
    if (b == 0xFF) {
      if (rest.empty()) return Errc::MalformedPacket;  // a marker with no payload
      m.payload.assign(rest);
      rest = {};
      break;
    }
    std::uint32_t delta = 0, length = 0;
    if (!read_ext(rest, b >> 4, delta) || !read_ext(rest, b & 0x0F, length)) {
      return Errc::MalformedPacket;
    }
    number += delta;
    if (number > 0xFFFF || rest.size() < length) return Errc::MalformedPacket;
    m.options.emplace_back(static_cast<std::uint16_t>(number), std::string(rest.substr(0, length)));
    rest.remove_prefix(length);
  }
  if (m.code == kEmpty && (!m.token.empty() || !m.options.empty() || !m.payload.empty())) {
    return Errc::MalformedPacket;  // 4.1: an Empty message is the 4-octet header only
  }
  return m;
}

void encode(const Message& m, std::string& out) {
  out.push_back(static_cast<char>(0x40 | static_cast<std::uint8_t>(m.type) << 4 |
                                  std::min<std::size_t>(m.token.size(), 8)));
  out.push_back(static_cast<char>(m.code));
  out.push_back(static_cast<char>(m.id >> 8));
  out.push_back(static_cast<char>(m.id & 0xFF));
  out.append(m.token.substr(0, 8));
  std::uint32_t prev = 0;
  for (const auto& [number, value] : m.options) {
    const std::uint32_t delta = number - prev;
    const auto length = static_cast<std::uint32_t>(value.size());
    out.push_back(static_cast<char>(nibble_of(delta) << 4 | nibble_of(length)));
    put_ext(out, delta);
    put_ext(out, length);
    out += value;
    prev = number;
  }
  if (!m.payload.empty()) {
    out.push_back(static_cast<char>(0xFF));
    out += m.payload;
  }
}

std::vector<std::string_view> Message::all(std::uint16_t number) const {
  std::vector<std::string_view> out;
  for (const auto& [n, v] : options) {
    if (n == number) out.emplace_back(v);
  }
  return out;
}

const std::string* Message::first(std::uint16_t number) const {
  for (const auto& [n, v] : options) {
    if (n == number) return &v;
  }
  return nullptr;
}

std::optional<std::uint32_t> Message::uint_option(std::uint16_t number) const {
  const auto* v = first(number);
  if (v == nullptr || v->size() > 4) return std::nullopt;
  std::uint32_t out = 0;
  for (char c : *v)
    out = out << 8 | static_cast<std::uint8_t>(c);
  return out;
}

std::optional<Block> Message::block(std::uint16_t number) const {
  auto v = uint_option(number);
  if (!v || first(number)->size() > 3) return std::nullopt;
  Block b;
  b.szx = static_cast<std::uint8_t>(*v & 7);
  b.more = (*v & 8) != 0;
  b.num = *v >> 4;
  if (b.szx == 7) return std::nullopt;  // reserved (RFC 7959 2.2)
  return b;
}

void Message::add(std::uint16_t number, std::string value) {
  auto at = std::upper_bound(options.begin(), options.end(), number,
                             [](std::uint16_t n, const auto& o) { return n < o.first; });
  options.emplace(at, number, std::move(value));
}

void Message::add_uint(std::uint16_t number, std::uint32_t value) {
  add(number, uint_bytes(value));
}

void Message::add_block(std::uint16_t number, const Block& b) {
  add_uint(number, b.num << 4 | (b.more ? 8u : 0u) | b.szx);
}

std::string Message::path() const {
  std::string out;
  for (const auto& [n, v] : options) {
    if (n != kUriPath) continue;
    if (!out.empty()) out.push_back('/');
    out += v;
  }
  return out;
}

std::optional<std::string> Message::query(std::string_view name) const {
  for (const auto& [n, v] : options) {
    if (n != kUriQuery) continue;
    std::string_view q = v;
    if (q.size() > name.size() && q.starts_with(name) && q[name.size()] == '=') {
      return std::string(q.substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

}  // namespace emqxd::gateways::coap
