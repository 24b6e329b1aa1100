// The bench's own accounting: if these are wrong, every figure it prints is.
#include <catch2/catch.hpp>

#include "histogram.hpp"
#include "payload.hpp"
#include "sequence_tracker.hpp"
#include "topic_template.hpp"

using namespace emqxd::bench;

TEST_CASE("histogram buckets are contiguous and at most 1/64 wide", "[bench][histogram]") {
  for (std::size_t b = 0; b + 1 < kHistogramBuckets; ++b) {
    REQUIRE(histogram_bucket_high(b) + 1 == histogram_bucket_low(b + 1));
    REQUIRE(histogram_bucket(histogram_bucket_low(b)) == b);
    REQUIRE(histogram_bucket(histogram_bucket_high(b)) == b);
    const auto low = histogram_bucket_low(b);
    if (low >= 128) REQUIRE(histogram_bucket_high(b) - low + 1 <= low / 64);
  }
  REQUIRE(histogram_bucket(~std::uint64_t{0}) == kHistogramBuckets - 1);
}

TEST_CASE("histogram percentiles are within a bucket of the truth", "[bench][histogram]") {
  LatencyHistogram h;
  for (std::uint64_t v = 1; v <= 100'000; ++v)
    h.record(v * 1000);  // 1 us .. 100 ms
  HistogramSnapshot s;
  s.add(h);
  REQUIRE(s.count() == 100'000);
  REQUIRE(s.max() == 100'000'000);
  auto near = [](std::uint64_t got, double want) {
    return std::abs(static_cast<double>(got) - want) <= want / 64 + 1;
  };
  CHECK(near(s.percentile(0.5), 50'000'000));
  CHECK(near(s.percentile(0.99), 99'000'000));
  CHECK(near(s.percentile(0.999), 99'900'000));
  CHECK(s.percentile(1.0) == 100'000'000);
  CHECK(s.mean() == Approx(50'000'500.0));

  HistogramSnapshot later = s;
  LatencyHistogram more;
  more.record(7);
  later.add(more);
  const auto window = later.since(s);
  CHECK(window.count() == 1);
  CHECK(window.percentile(0.5) == 7);
}

TEST_CASE("sequence tracker: in order", "[bench][tracker]") {
  SequenceTracker t;
  for (std::uint64_t i = 0; i < 1000; ++i)
    REQUIRE(t.record(i) == SequenceTracker::Verdict::InOrder);
  t.set_end(1000);
  CHECK(t.received() == 1000);
  CHECK(t.lost() == 0);
  CHECK(t.duplicates() == 0);
  CHECK(t.out_of_order() == 0);
  CHECK(t.complete());
}

TEST_CASE("sequence tracker: gaps, late arrivals, duplicates", "[bench][tracker]") {
  SequenceTracker t;
  using V = SequenceTracker::Verdict;
  CHECK(t.record(0) == V::InOrder);
  CHECK(t.record(2) == V::InOrder);  // 1 missing so far
  CHECK(t.record(3) == V::InOrder);
  CHECK(t.lost() == 1);
  CHECK(t.record(1) == V::OutOfOrder);  // late, not lost
  CHECK(t.lost() == 0);
  CHECK(t.record(1) == V::Duplicate);  // below the window
  CHECK(t.record(10) == V::InOrder);
  CHECK(t.record(10) == V::Duplicate);  // inside the window
  CHECK(t.record(7) == V::OutOfOrder);
  t.set_end(12);  // 4,5,6,8,9,11 never came
  CHECK(t.lost() == 6);
  CHECK(t.duplicates() == 2);
  CHECK(t.out_of_order() == 2);
  CHECK(t.received() == 6);
  CHECK_FALSE(t.complete());
}

TEST_CASE("sequence tracker: the window grows, then gives up old holes", "[bench][tracker]") {
  SequenceTracker t;
  t.record(1);  // 0 is missing: everything after it waits in the window
  for (std::uint64_t i = 2; i < 100'000; ++i)
    t.record(i);
  CHECK(t.lost() == 1);
  CHECK(t.record(0) == SequenceTracker::Verdict::OutOfOrder);
  CHECK(t.lost() == 0);

  SequenceTracker far;
  far.record(1);
  far.record(SequenceTracker::kMaxWindowBits + 5);  // 0 falls out of the window: lost
  CHECK(far.lost() == SequenceTracker::kMaxWindowBits + 5 - 1);
  far.set_end(SequenceTracker::kMaxWindowBits + 10);
  CHECK(far.lost() == SequenceTracker::kMaxWindowBits + 10 - 2);
}

TEST_CASE("payload header round trip", "[bench][payload]") {
  char buf[kPayloadHeaderSize];
  write_payload_header(buf, {0x12345678, 0x0102030405060708ull, 1'700'000'000'123'456'789, true});
  PayloadHeader h;
  REQUIRE(read_payload_header(std::string_view(buf, sizeof buf), h));
  CHECK(h.stream == 0x12345678);
  CHECK(h.sequence == 0x0102030405060708ull);
  CHECK(h.sent_ns == 1'700'000'000'123'456'789);
  CHECK(h.final);
  CHECK(std::string_view(buf, 4) == "EQB1");
  CHECK(static_cast<unsigned char>(buf[4]) == 0x92);  // big endian, final bit on top
  CHECK_FALSE(read_payload_header(std::string_view(buf, kPayloadHeaderSize - 1), h));
  // Another generator's payload of the same size is foreign, not a huge sequence number.
  const std::string xs(64, 'x');
  CHECK_FALSE(read_payload_header(xs, h));
}

TEST_CASE("JSON payloads carry the same header and pad to the size", "[bench][payload]") {
  std::string out = "x";
  append_json_payload(out, {7, 1234, 1'700'000'000'123'456'789, false}, 120);
  const std::string_view p = std::string_view(out).substr(1);
  CHECK(p.size() == 120);
  CHECK(p.starts_with("{\"h\":\"45514231"));  // "EQB1" in hex
  CHECK(p.find(",\"v\":34,\"p\":\"000") != std::string_view::npos);
  CHECK(p.ends_with("0\"}"));
  PayloadHeader h;
  REQUIRE(read_payload_header(p, h));
  CHECK(h.stream == 7);
  CHECK(h.sequence == 1234);
  CHECK(h.sent_ns == 1'700'000'000'123'456'789);
  CHECK_FALSE(h.final);
  // The smallest one is still whole JSON; a damaged one is foreign.
  std::string small;
  append_json_payload(small, {1, 5, 0, true}, kJsonPayloadMinSize);
  CHECK(small.size() == kJsonPayloadMinSize);
  CHECK(small.ends_with("\"p\":\"\"}"));
  small[10] = 'z';
  CHECK_FALSE(read_payload_header(small, h));
}

TEST_CASE("a jump far past the window counts the skipped messages lost at once",
          "[bench][sequence]") {
  SequenceTracker t;
  for (std::uint64_t i = 0; i < 10; ++i)
    t.record(i);
  t.record(3);  // duplicate
  const std::uint64_t far = std::uint64_t{1} << 62;
  // Grows the window to its maximum first, then jumps: must not loop over 2^62 slots.
  t.record(SequenceTracker::kMaxWindowBits - 1);
  t.record(far);
  CHECK(t.lost() == far + 1 - 12);
  CHECK(t.duplicates() == 1);
  t.record(far + 1);
  CHECK(t.lost() == far + 2 - 13);
}

TEST_CASE("topic templates", "[bench][topic]") {
  CHECK(expand_topic("bench/%i/%c/%u/100%%", 7, "host_bench_pub_7", "alice") ==
        "bench/7/host_bench_pub_7/alice/100%");
  CHECK(expand_topic("a/%x", 1, "c", "u") == "a/%x");
  CHECK(filter_for_template("bench/%i/data") == "bench/+/data");
  CHECK(filter_for_template("t/x%i") == "t/+");
  CHECK(filter_for_template("fixed/topic") == "fixed/topic");
  CHECK(is_shared_filter("$share/g/a"));
  CHECK(is_shared_filter("$queue/a"));
  CHECK_FALSE(is_shared_filter("a/$share"));
}
