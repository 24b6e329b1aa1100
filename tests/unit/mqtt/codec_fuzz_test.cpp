// Fuzz smoke test: deterministic random mutations of valid packets of every type and both
// versions, fed through peek_frame and decode. Nothing may crash (run it under ASan+UBSan to
// catch reads past the buffer), and whatever decodes must re-encode and decode to an equal
// value (and encode to the same bytes again). tests/fuzz/codec_fuzz.cpp runs the same path under
// libFuzzer, unbounded.
#include <catch2/catch.hpp>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "codec_samples.hpp"
#include "codec_test_util.hpp"
#include "mqtt/codec.hpp"

namespace emqxd::mqtt {
namespace {

using namespace test;

// splitmix64: small, fast, and the same sequence everywhere.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  std::size_t below(std::size_t n) { return n == 0 ? 0 : static_cast<std::size_t>(next() % n); }
  char byte() { return static_cast<char>(next() & 0xFF); }

 private:
  std::uint64_t s_;
};

struct Seed {
  std::uint8_t first_byte;
  std::string body;
  ProtocolVersion version;
};

std::vector<Seed> make_seeds() {
  std::vector<Seed> seeds;
  auto add = [&](const std::string& wire, ProtocolVersion v) {
    auto h = peek_frame(wire, kNoLimit);
    REQUIRE(h.has_value());
    seeds.push_back({h->first_byte, wire.substr(h->header_length), v});
  };
  for (const auto& p : sample_packets_v311())
    add(encoded(p, V311), V311);
  for (const auto& p : sample_packets_v5())
    add(encoded(p, V5), V5);
  // Forms our encoder never writes.
  add(bytes({0x40, 0x03, 0x00, 0x07, 0x00}), V5);
  add(bytes({0x40, 0x04, 0x00, 0x07, 0x10, 0x00}), V5);
  add(bytes({0xE0, 0x02, 0x00, 0x00}), V5);
  add(bytes({0xF0, 0x01, 0x18}), V5);
  return seeds;
}

// One random edit of `s`.
void mutate(std::string& s, Rng& rng) {
  static constexpr char kInteresting[] = {0x00,       0x01,       0x02,      0x7F,
                                          char(0x80), char(0xC0), char(0xFF)};
  const std::size_t n = s.size();
  switch (rng.below(8)) {
    case 0:  // flip a bit
      if (n) s[rng.below(n)] ^= static_cast<char>(1 << rng.below(8));
      break;
    case 1:  // overwrite a byte
      if (n) s[rng.below(n)] = rng.byte();
      break;
    case 2:  // an interesting value, often at the front where lengths live
      if (n) {
        const auto at = rng.below(rng.below(2) ? std::min<std::size_t>(n, 6) : n);
        s[at] = kInteresting[rng.below(sizeof kInteresting)];
      }
      break;
    case 3:  // truncate
      s.resize(rng.below(n + 1));
      break;
    case 4:  // insert bytes
      s.insert(rng.below(n + 1), std::string(1 + rng.below(4), rng.byte()));
      break;
    case 5:  // delete a range
      if (n) {
        auto at = rng.below(n);
        s.erase(at, 1 + rng.below(std::min<std::size_t>(n - at, 8)));
      }
      break;
    case 6:  // nudge a byte, as a length that is off by a little
      if (n) s[rng.below(n)] += static_cast<char>(static_cast<int>(rng.below(7)) - 3);
      break;
    case 7:  // duplicate a slice
      if (n) {
        auto at = rng.below(n);
        auto len = 1 + rng.below(std::min<std::size_t>(n - at, 16));
        s.insert(rng.below(n + 1), s.substr(at, len));
      }
      break;
  }
}

struct Stats {
  std::size_t decoded = 0;
  std::map<Errc, std::size_t> errors;
  std::size_t mismatches = 0;
  std::string first_mismatch;
};

// Frames and decodes everything in `wire`, checking each decoded packet's round trip.
void feed(std::string_view wire, ProtocolVersion v, Stats& stats) {
  while (!wire.empty()) {
    auto h = peek_frame(wire, 1 << 16);
    if (!h) {
      ++stats.errors[h.error()];
      return;
    }
    if (h->total() > wire.size()) {
      ++stats.errors[Errc::NeedMoreData];
      return;
    }
    auto p = decode(*h, wire.substr(h->header_length, h->remaining_length), v);
    if (p) {
      ++stats.decoded;
      std::string again;
      encode(*p, v, again);
      auto h2 = peek_frame(again, kNoLimit);
      bool same = h2 && h2->total() == again.size();
      if (same) {
        auto p2 = decode(*h2, std::string_view(again).substr(h2->header_length), v);
        same = p2 && *p2 == *p;
        if (same) {  // and our encoding is stable
          std::string third;
          encode(*p2, v, third);
          same = third == again;
        }
      }
      if (!same && stats.mismatches++ == 0) {
        stats.first_mismatch = hex(wire.substr(0, h->total())) + " -> " + hex(again);
      }
    } else {
      ++stats.errors[p.error()];
    }
    wire.remove_prefix(h->total());
  }
}

TEST_CASE("mutated packets never crash the decoder and decoded ones round-trip", "[codec][fuzz]") {
  const auto seeds = make_seeds();
  Rng rng(20240601);
  Stats stats;
  constexpr int kIterations = 500'000;
  std::string s;
  for (int i = 0; i < kIterations; ++i) {
    const Seed& seed = seeds[rng.below(seeds.size())];
    const auto version = rng.below(8) == 0 ? (seed.version == V5 ? V311 : V5) : seed.version;
    if (rng.below(4) != 0) {
      // Mutate the body and frame it with a correct Remaining Length: exercises the parsers.
      std::string body = seed.body;
      for (std::size_t m = 1 + rng.below(3); m > 0; --m)
        mutate(body, rng);
      auto first = seed.first_byte;
      if (rng.below(16) == 0) first ^= static_cast<std::uint8_t>(1 << rng.below(8));
      s = frame(first, body);
    } else {
      // Mutate the whole wire, framing included, sometimes after another packet.
      s = frame(seed.first_byte, seed.body);
      if (rng.below(4) == 0) {
        const Seed& other = seeds[rng.below(seeds.size())];
        s += frame(other.first_byte, other.body);
      }
      for (std::size_t m = 1 + rng.below(4); m > 0; --m)
        mutate(s, rng);
    }
    feed(s, version, stats);
  }
  INFO("decoded " << stats.decoded << ", malformed " << stats.errors[Errc::MalformedPacket]
                  << ", protocol errors " << stats.errors[Errc::ProtocolError]);
  INFO("first mismatch: " << stats.first_mismatch);
  CHECK(stats.mismatches == 0);
  // The mutations must reach every outcome, or the test proves little.
  CHECK(stats.decoded > kIterations / 20);
  CHECK(stats.errors[Errc::MalformedPacket] > kIterations / 20);
  CHECK(stats.errors[Errc::ProtocolError] > 100);
  CHECK(stats.errors[Errc::NeedMoreData] > 100);
  CHECK(stats.errors[Errc::UnsupportedProtocolVersion] > 10);
  CHECK(stats.errors[Errc::PacketTooLarge] > 10);
}

TEST_CASE("every prefix and every single-byte change of the samples", "[codec][fuzz]") {
  Stats stats;
  for (const auto& seed : make_seeds()) {
    const std::string wire = frame(seed.first_byte, seed.body);
    for (std::size_t n = 0; n < wire.size(); ++n)
      feed(wire.substr(0, n), seed.version, stats);
    for (std::size_t i = 0; i < wire.size(); ++i) {
      std::string changed = wire;
      for (int b = 0; b < 256; b += 3) {
        changed[i] = static_cast<char>(b);
        feed(changed, seed.version, stats);
      }
    }
  }
  INFO("first mismatch: " << stats.first_mismatch);
  CHECK(stats.mismatches == 0);
}

}  // namespace
}  // namespace emqxd::mqtt
