// The value encodings: every record round-trips with all its fields, clocks convert both
// ways, and truncated or corrupt values are refused with a message, never a crash.
#include "storage/encoding.hpp"

#include <catch2/catch.hpp>
#include <random>

#include "storage/storage_test_util.hpp"

namespace {

using namespace emqxd::storage;
using namespace emqxd::storage::test;
namespace enc = emqxd::storage::encoding;
using emqxd::mqtt::Message;
using emqxd::mqtt::MessagePtr;
using emqxd::mqtt::QoS;

std::string encoded(const Message& m, const ClockPair& now = fixed_clocks()) {
  std::string out;
  enc::encode_message(m, now, out);
  return out;
}

}  // namespace

TEST_CASE("a message with every v5 extra and an expiry round-trips", "[storage][encoding]") {
  auto m = full_message();
  MessagePtr back;
  REQUIRE(enc::decode_message(encoded(*m), fixed_clocks(), back).ok());
  REQUIRE(back);
  check_same_message(*back, *m);
  CHECK(back->remaining_expiry(fixed_clocks().steady) == 3590u);
}

TEST_CASE("a plain message round-trips and stays small", "[storage][encoding]") {
  auto m = message("a/b", "hello", QoS::AtMostOnce);
  std::string bytes = encoded(*m);
  // version, flags, received-at (6 bytes), topic and payload with their lengths.
  CHECK(bytes.size() == 2 + 6 + 4 + 6);
  MessagePtr back;
  REQUIRE(enc::decode_message(bytes, fixed_clocks(), back).ok());
  check_same_message(*back, *m);
  CHECK_FALSE(back->message_expiry_interval.has_value());
  CHECK_FALSE(back->extra);
}

TEST_CASE("expiry is kept as wall-clock time: after a restart it counts on",
          "[storage][encoding][expiry]") {
  auto m = message("a", "x");
  m->message_expiry_interval = 60;
  m->received_at = fixed_clocks().steady;
  std::string bytes = encoded(*m);

  // The node restarts 45 s of wall time later; its steady clock started again near zero.
  ClockPair later;
  later.steady = Message::Clock::time_point(5s);
  later.wall_ms = fixed_clocks().wall_ms + 45000;
  MessagePtr back;
  REQUIRE(enc::decode_message(bytes, later, back).ok());
  CHECK(back->message_expiry_interval == 60u);  // as published
  CHECK(back->remaining_expiry(later.steady) == 15u);
  CHECK_FALSE(back->expired(later.steady));
  CHECK(back->expired(later.steady + 15s));
  CHECK(to_wall_ms(back->received_at, later) == fixed_clocks().wall_ms);

  // 2 minutes later: expired.
  later.wall_ms = fixed_clocks().wall_ms + 120000;
  REQUIRE(enc::decode_message(bytes, later, back).ok());
  CHECK(back->expired(later.steady));
}

TEST_CASE("clock helpers convert both ways and saturate on absurd values", "[storage][clock]") {
  ClockPair now = fixed_clocks();
  CHECK(to_wall_ms(now.steady, now) == now.wall_ms);
  CHECK(to_wall_ms(now.steady - 1500ms, now) == now.wall_ms - 1500);
  CHECK(to_steady(now.wall_ms + 2000, now) == now.steady + 2s);
  CHECK(to_steady(to_wall_ms(now.steady + 123ms, now), now) == now.steady + 123ms);

  auto m = message("a", "x");
  m->received_at = now.steady - 10s;
  CHECK_FALSE(wall_expiry_ms(*m, now).has_value());
  m->message_expiry_interval = 30;
  CHECK(wall_expiry_ms(*m, now) == now.wall_ms + 20000);

  Message r;
  set_wall_times(r, now.wall_ms - 10000, now.wall_ms + 20000, now);
  CHECK(r.received_at == now.steady - 10s);
  CHECK(r.message_expiry_interval == 30u);
  CHECK(r.remaining_expiry(now.steady) == 20u);
  set_wall_times(r, now.wall_ms, now.wall_ms - 5, now);  // expiry before receipt
  CHECK(r.message_expiry_interval == 0u);
  CHECK(r.expired(now.steady));
  set_wall_times(r, now.wall_ms, std::nullopt, now);
  CHECK_FALSE(r.message_expiry_interval.has_value());

  // Far outside a century: clamped, no overflow (UBSan would say).
  auto far = to_steady(std::numeric_limits<std::int64_t>::max(), now);
  CHECK(far > now.steady);
  auto past = to_steady(std::numeric_limits<std::int64_t>::min(), now);
  CHECK(past < now.steady);
  set_wall_times(r, std::numeric_limits<std::int64_t>::min(),
                 std::numeric_limits<std::int64_t>::max(), now);
  CHECK(r.message_expiry_interval > 3'000'000'000u);  // a century, not garbage
}

TEST_CASE("subscription options are MQTT 5's options byte", "[storage][encoding]") {
  emqxd::mqtt::SubscribeOptions o;
  o.max_qos = QoS::ExactlyOnce;
  o.no_local = true;
  o.retain_as_published = true;
  o.retain_handling = 2;
  CHECK(encode_options(o) == 0x2E);
  CHECK(decode_options(0x2E) == o);
  CHECK(encode_options({}) == 0x00);
  o.exclusive = true;  // bit 6, which MQTT reserves: ours ($exclusive/)
  CHECK(encode_options(o) == 0x6E);
  CHECK(decode_options(0x6E) == o);
  for (unsigned b = 0; b < 256; ++b) {
    auto d = decode_options(static_cast<std::uint8_t>(b));
    bool valid = (b & 0x03) != 3 && ((b >> 4) & 0x03) != 3 && (b & 0x80) == 0;
    REQUIRE(d.has_value() == valid);
    if (d) CHECK(encode_options(*d) == b);
  }
}

TEST_CASE("session, subscription, delivery and awaiting_rel values round-trip",
          "[storage][encoding]") {
  SECTION("session") {
    SessionRecord s = session(42, "client-ü");
    s.expiry_interval = 0xFFFFFFFF;
    s.disconnected_at_ms = 0;
    std::string bytes;
    enc::encode_session(s, bytes);
    SessionRecord back;
    back.uid = 42;
    REQUIRE(enc::decode_session(bytes, back).ok());
    CHECK(back == s);
  }
  SECTION("subscription") {
    SubscriptionRecord s = subscription(1, "$share/g/a/+");
    s.options.no_local = true;
    s.options.retain_handling = 1;
    s.subscription_id = 268435455;  // the largest MQTT allows
    std::string bytes;
    enc::encode_subscription(s, bytes);
    SubscriptionRecord back;
    back.uid = 1;
    back.filter = s.filter;
    REQUIRE(enc::decode_subscription(bytes, back).ok());
    CHECK(back == s);
  }
  SECTION("delivery") {
    DeliveryRecord d;
    d.msg = full_message();
    d.qos = QoS::AtLeastOnce;
    d.retain = true;
    d.subscription_ids = {1, 200, 268435455};
    d.share = "$share/group/sensors/#";
    d.packet_id = 65535;
    d.state = OutState::WaitPubRec;
    std::string bytes;
    enc::encode_delivery(d, fixed_clocks(), bytes);
    DeliveryRecord back;
    REQUIRE(enc::decode_delivery(bytes, fixed_clocks(), back).ok());
    check_same_message(*back.msg, *d.msg);
    CHECK(back.qos == d.qos);
    CHECK(back.retain);
    CHECK(back.subscription_ids == d.subscription_ids);
    CHECK(back.share == d.share);
    CHECK(back.packet_id == 65535);
    CHECK(back.state == OutState::WaitPubRec);
  }
  SECTION("delivery state") {
    std::string bytes;
    enc::encode_delivery_state(7, OutState::WaitPubComp, bytes);
    std::uint16_t packet_id = 0;
    OutState state = OutState::Queued;
    REQUIRE(enc::decode_delivery_state(bytes, packet_id, state).ok());
    CHECK(packet_id == 7);
    CHECK(state == OutState::WaitPubComp);
  }
  SECTION("awaiting_rel") {
    std::string bytes;
    enc::encode_awaiting_rel(-5, bytes);
    std::int64_t at = 0;
    REQUIRE(enc::decode_awaiting_rel(bytes, at).ok());
    CHECK(at == -5);
  }
}

TEST_CASE("keys sort by uid, then seq", "[storage][encoding]") {
  std::string a, b, c, s;
  enc::delivery_key(a, 1, 0xFFFF);
  enc::delivery_key(b, 1, 0x10000);
  enc::delivery_key(c, 2, 0);
  enc::delivery_state_key(s, 1, 0xFFFF);
  CHECK(a < s);
  CHECK(s < b);
  CHECK(b < c);
  CHECK(enc::key_uid(c) == 2u);
  CHECK_FALSE(enc::key_uid("short").has_value());
}

TEST_CASE("every truncation of every value is refused with a message", "[storage][corrupt]") {
  DeliveryRecord d;
  d.msg = full_message();
  d.subscription_ids = {5};
  d.share = "$share/g/t";
  std::vector<std::pair<const char*, std::string>> values(5);
  values[0].first = "message";
  enc::encode_message(*full_message(), fixed_clocks(), values[0].second);
  values[1].first = "delivery";
  enc::encode_delivery(d, fixed_clocks(), values[1].second);
  values[2].first = "session";
  enc::encode_session(session(1, "c"), values[2].second);
  values[3].first = "subscription";
  enc::encode_subscription(subscription(1, "a"), values[3].second);
  values[4].first = "awaiting_rel";
  enc::encode_awaiting_rel(1704067200000, values[4].second);

  for (const auto& [what, full] : values) {
    INFO(what);
    for (std::size_t n = 0; n < full.size(); ++n) {
      std::string_view cut(full.data(), n);
      Status st;
      MessagePtr m;
      DeliveryRecord dr;
      SessionRecord sr;
      SubscriptionRecord sub;
      std::int64_t at = 0;
      if (std::string_view(what) == "message") st = enc::decode_message(cut, fixed_clocks(), m);
      if (std::string_view(what) == "delivery") st = enc::decode_delivery(cut, fixed_clocks(), dr);
      if (std::string_view(what) == "session") st = enc::decode_session(cut, sr);
      if (std::string_view(what) == "subscription") st = enc::decode_subscription(cut, sub);
      if (std::string_view(what) == "awaiting_rel") st = enc::decode_awaiting_rel(cut, at);
      INFO("cut at " << n);
      REQUIRE(st.code() == Status::Code::Corruption);
      CHECK_FALSE(st.message().empty());
    }
  }
}

TEST_CASE("corrupt values are refused by name", "[storage][corrupt]") {
  std::string good = encoded(*full_message());
  MessagePtr m;
  auto error = [&](std::string bytes) {
    Status st = enc::decode_message(bytes, fixed_clocks(), m);
    return st.to_string();
  };
  CHECK(error(good + "x") == "corruption: 1 trailing bytes after message");
  std::string v = good;
  v[0] = 2;
  CHECK(error(v) == "corruption: unsupported format version 2 of message at byte 1");
  v = good;
  v[1] = static_cast<char>(v[1] | 0x03);  // QoS 3
  CHECK(error(v) == "corruption: QoS 3 in message flags at byte 2");
  v = good;
  v[1] = static_cast<char>(v[1] | 0x80);
  CHECK(error(v) == "corruption: reserved bits set in message flags at byte 2");
  CHECK(error("") == "corruption: truncated message at byte 0");
  // A length far beyond the value: refused before any allocation.
  std::string huge = {1, 0, 0, '\xFF', '\xFF', '\xFF', '\xFF', '\x0F'};
  CHECK(error(huge) == "corruption: truncated message topic at byte 8");
  // An endless varint.
  CHECK(error(std::string(2, '\x01') + std::string(12, '\xFF')) ==
        "corruption: varint overflow in message received-at at byte 12");

  std::string state;
  enc::encode_delivery_state(1, OutState::WaitPubAck, state);
  state[1] = 4;
  std::uint16_t pid = 0;
  OutState os{};
  CHECK(enc::decode_delivery_state(state, pid, os).to_string() ==
        "corruption: invalid delivery state at byte 4");

  std::string sub;
  enc::encode_subscription(subscription(1, "a"), sub);
  sub[1] = 0x03;
  SubscriptionRecord sr;
  CHECK(enc::decode_subscription(sub, sr).to_string() ==
        "corruption: invalid subscription options at byte 2");
}

TEST_CASE("random corruption never crashes the decoders", "[storage][corrupt]") {
  DeliveryRecord d;
  d.msg = full_message();
  d.subscription_ids = {1, 2, 3};
  d.share = "$share/g/t";
  std::string good;
  enc::encode_delivery(d, fixed_clocks(), good);
  std::mt19937 rng(12345);
  int accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string v = good;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      v[rng() % v.size()] = static_cast<char>(rng() & 0xFF);
    }
    if (rng() % 4 == 0) v.resize(rng() % v.size());
    DeliveryRecord out;
    Status st = enc::decode_delivery(v, fixed_clocks(), out);
    if (st.ok()) {
      ++accepted;  // a flip inside the payload, say: still a well-formed value
      REQUIRE(out.msg);
    } else {
      REQUIRE(st.code() == Status::Code::Corruption);
    }
  }
  CHECK(accepted < 20000);
}
