#include "connectors/buffer.hpp"

#include <array>
#include <filesystem>
#include <stdexcept>
#include <system_error>

namespace emqxd::connectors {

namespace fs = std::filesystem;

Buffer::Buffer(Options o) : o_(std::move(o)) {
  if (!o_.offload) return;
  if (o_.segment_bytes == 0 || o_.segment_bytes > o_.max_bytes) o_.segment_bytes = o_.max_bytes;
  std::error_code ec;
  fs::remove_all(o_.dir, ec);  // volatile: what a previous run left is forgotten
  fs::create_directories(o_.dir, ec);
  if (ec) {
    throw std::runtime_error("buffer directory " + o_.dir + ": " + ec.message());
  }
}

Buffer::~Buffer() {
  if (!o_.offload) return;
  writer_.close();
  reader_.close();
  std::error_code ec;
  fs::remove_all(o_.dir, ec);
}

std::string Buffer::segment_path(std::uint64_t id) const {
  return o_.dir + "/" + std::to_string(id) + ".seg";
}

bool Buffer::append_to_disk(const std::string& item) {
  if (segments_.empty() || written_ >= o_.segment_bytes) {
    writer_.close();
    writer_.clear();
    segments_.push_back(Segment{next_id_++, 0, 0, 0});
    writer_.open(segment_path(segments_.back().id), std::ios::binary | std::ios::trunc);
    written_ = 0;
    if (!writer_) {
      segments_.pop_back();
      return false;
    }
  }
  std::array<char, 4> len{};
  const auto n = static_cast<std::uint32_t>(item.size());
  for (int i = 0; i < 4; ++i)
    len[static_cast<std::size_t>(i)] = static_cast<char>(n >> (8 * i));
  writer_.write(len.data(), len.size());
  writer_.write(item.data(), static_cast<std::streamsize>(item.size()));
  writer_.flush();  // the reader opens the file on its own
  if (!writer_) {
    // The disk refused (full?): this segment ends here, the next item starts another.
    written_ = o_.segment_bytes;
    return false;
  }
  written_ += 4 + item.size();
  ++segments_.back().count;
  segments_.back().bytes += cost(item);
  return true;
}

std::size_t Buffer::push(std::string item) {
  const std::uint64_t c = cost(item);
  if (c > o_.max_bytes) return 1;  // larger than the whole bound: it goes itself
  std::size_t dropped = 0;
  while (bytes_ + c > o_.max_bytes && count_ > 0) {
    if (take_front()) ++dropped;  // an unreadable one is counted by take_lost()
  }
  if (o_.offload) {
    if (!append_to_disk(item)) {
      ++disk_errors_;
      return dropped + 1;
    }
  } else {
    mem_.push_back(std::move(item));
  }
  ++count_;
  bytes_ += c;
  return dropped;
}

void Buffer::start_afresh() {
  writer_.close();
  reader_.close();
  reader_id_ = ~0ull;
  std::error_code ec;
  fs::remove(segment_path(segments_.front().id), ec);
  segments_.clear();
  written_ = 0;
}

std::optional<std::string> Buffer::take_front() {
  if (count_ == 0) return std::nullopt;
  if (!o_.offload) {
    std::string s = std::move(mem_.front());
    mem_.pop_front();
    --count_;
    bytes_ -= cost(s);
    return s;
  }
  while (!segments_.empty() && segments_.front().count == 0) {
    // Read to its end and not the one written to: it goes.
    if (segments_.size() == 1) break;
    reader_.close();
    std::error_code ec;
    fs::remove(segment_path(segments_.front().id), ec);
    segments_.pop_front();
  }
  Segment& s = segments_.front();
  if (reader_id_ != s.id) {
    reader_.close();
    reader_.clear();
    reader_.open(segment_path(s.id), std::ios::binary);
    reader_id_ = s.id;
  }
  reader_.clear();
  reader_.seekg(static_cast<std::streamoff>(s.read_at));
  std::array<char, 4> len{};
  reader_.read(len.data(), len.size());
  std::uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n |= static_cast<std::uint32_t>(static_cast<unsigned char>(len[static_cast<std::size_t>(i)]))
         << (8 * i);
  // A record longer than what the segment holds is damage: the segment's items are lost.
  if (!reader_ || n + 16 > s.bytes) {
    ++disk_errors_;
    lost_ += s.count;
    count_ -= s.count;
    bytes_ -= s.bytes;
    s.count = 0;
    s.bytes = 0;
    if (segments_.size() == 1) start_afresh();
    return std::nullopt;
  }
  std::string item(n, '\0');
  reader_.read(item.data(), n);
  --s.count;
  --count_;
  const std::uint64_t c = cost(item);
  s.bytes -= c;
  bytes_ -= c;
  s.read_at += 4 + n;
  if (!reader_) {
    ++disk_errors_;
    ++lost_;
    return std::nullopt;
  }
  if (s.count == 0 && segments_.size() == 1) start_afresh();  // all read, and the writer's
  return item;
}

std::vector<std::string> Buffer::pop(std::size_t n) {
  std::vector<std::string> out;
  while (out.size() < n && count_ > 0) {
    if (auto s = take_front()) out.push_back(std::move(*s));
  }
  return out;
}

}  // namespace emqxd::connectors
