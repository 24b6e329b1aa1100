// A buffer worker's queue (server/connectors/buffer.hpp): in memory and on disk, bounded by
// bytes with the oldest dropped, order kept across segment files.
#include "connectors/buffer.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using emqxd::connectors::Buffer;

namespace {

std::string temp_dir(const char* name) {
  auto d = std::filesystem::temp_directory_path() /
           ("emqxd-buffer-" + std::string(name) + "-" + std::to_string(::getpid()));
  return d.string();
}

std::vector<std::string> drain(Buffer& b) {
  std::vector<std::string> out;
  while (!b.empty()) {
    for (auto& s : b.pop(7))
      out.push_back(std::move(s));
  }
  return out;
}

// All of one size, so that the bound holds a known number of them.
std::string item(int i) {
  char n[8];
  std::snprintf(n, sizeof n, "%04d", i);
  return "item-" + std::string(n) + std::string(20, 'x');
}

}  // namespace

TEST_CASE("buffer: in memory, FIFO, the oldest dropped past the bound", "[connectors][buffer]") {
  Buffer::Options o;
  o.max_bytes = 10 * Buffer::cost(item(0));
  Buffer b(o);
  std::size_t dropped = 0;
  for (int i = 0; i < 25; ++i)
    dropped += b.push(item(i));
  CHECK(dropped == 15);
  CHECK(b.count() == 10);
  CHECK(b.bytes() <= o.max_bytes);
  auto got = drain(b);
  REQUIRE(got.size() == 10);
  CHECK(got.front() == item(15));
  CHECK(got.back() == item(24));
  CHECK(b.bytes() == 0);
  // Larger than the whole bound: it goes itself, the rest stays.
  b.push(item(1));
  CHECK(b.push(std::string(o.max_bytes, 'y')) == 1);
  CHECK(b.count() == 1);
}

TEST_CASE("buffer: on disk, in order across segments, files removed as read",
          "[connectors][buffer]") {
  Buffer::Options o;
  o.offload = true;
  o.dir = temp_dir("offload");
  o.max_bytes = 1000 * Buffer::cost(item(0));
  o.segment_bytes = 10 * (4 + item(0).size());  // ~10 records a file
  {
    Buffer b(o);
    for (int i = 0; i < 95; ++i)
      REQUIRE(b.push(item(i)) == 0);
    CHECK(b.count() == 95);
    std::size_t files = 0;
    for (auto& e : std::filesystem::directory_iterator(o.dir)) {
      (void)e;
      ++files;
    }
    CHECK(files >= 9);
    // Interleaved reads and writes keep FIFO order.
    auto first = b.pop(30);
    REQUIRE(first.size() == 30);
    CHECK(first[0] == item(0));
    CHECK(first[29] == item(29));
    for (int i = 95; i < 120; ++i)
      b.push(item(i));
    auto rest = drain(b);
    REQUIRE(rest.size() == 90);
    CHECK(rest.front() == item(30));
    CHECK(rest.back() == item(119));
    CHECK(b.disk_errors() == 0);
    // All read: the files are gone, and writing starts afresh.
    std::size_t left = 0;
    for (auto& e : std::filesystem::directory_iterator(o.dir)) {
      (void)e;
      ++left;
    }
    CHECK(left == 0);
    b.push(item(7));
    CHECK(b.pop(1) == std::vector<std::string>{item(7)});
  }
  CHECK_FALSE(std::filesystem::exists(o.dir));  // volatile: gone with the buffer
}

TEST_CASE("buffer: on disk, bounded, the oldest dropped, a restart forgets",
          "[connectors][buffer]") {
  Buffer::Options o;
  o.offload = true;
  o.dir = temp_dir("bound");
  o.max_bytes = 20 * Buffer::cost(item(0));
  o.segment_bytes = 5 * (4 + item(0).size());
  std::filesystem::create_directories(o.dir);
  { std::ofstream(o.dir + "/left-over.seg") << "from a previous run"; }
  Buffer b(o);
  CHECK_FALSE(std::filesystem::exists(o.dir + "/left-over.seg"));
  std::size_t dropped = 0;
  for (int i = 0; i < 50; ++i)
    dropped += b.push(item(i));
  CHECK(dropped == 30);
  auto got = drain(b);
  REQUIRE(got.size() == 20);
  CHECK(got.front() == item(30));
  CHECK(got.back() == item(49));
}
