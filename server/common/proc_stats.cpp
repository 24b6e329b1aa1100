#include "common/proc_stats.hpp"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace emqxd::proc {

std::optional<SystemMemory> system_memory() {
  std::ifstream in("/proc/meminfo");
  if (!in) return std::nullopt;
  SystemMemory m;
  bool total = false, available = false;
  std::string key;
  std::uint64_t kb = 0;
  std::string unit;
  while (in >> key >> kb) {
    std::getline(in, unit);
    if (key == "MemTotal:") {
      m.total = kb * 1024;
      total = true;
    } else if (key == "MemAvailable:") {
      m.available = kb * 1024;
      available = true;
    }
  }
  if (!total || !available) return std::nullopt;
  return m;
}

namespace {

// Field `index` (0: size, 1: resident) of /proc/self/statm, in bytes.
std::optional<std::uint64_t> statm(int index) {
  std::ifstream in("/proc/self/statm");
  std::uint64_t v[2] = {0, 0};
  if (!(in >> v[0] >> v[1])) return std::nullopt;
  return v[index] * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

std::optional<std::uint64_t> resident_bytes() {
  return statm(1);
}

std::optional<std::uint64_t> virtual_bytes() {
  return statm(0);
}

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

std::optional<std::uint64_t> open_fds() {
  // Linux 6.2 and later give the count as the directory's size: no walk over 20,000
  // entries on every scrape. Older kernels say 0, and the entries are counted.
  struct stat st {};
  if (::stat("/proc/self/fd", &st) == 0 && st.st_size > 0) {
    return static_cast<std::uint64_t>(st.st_size);
  }
  std::error_code ec;
  std::uint64_t n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    ++n;
  }
  if (ec) return std::nullopt;
  return n > 0 ? n - 1 : 0;  // the iterator's own descriptor
}

std::optional<std::uint64_t> max_fds() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return std::nullopt;
  return static_cast<std::uint64_t>(r.rlim_cur);
}

std::optional<double> CpuUse::percent() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  if (!(in >> cpu) || cpu != "cpu") return std::nullopt;
  // user nice system idle iowait irq softirq steal (guest times are inside user and nice)
  std::uint64_t f[8] = {};
  for (auto& x : f) {
    if (!(in >> x)) return std::nullopt;
  }
  std::uint64_t total = 0;
  for (auto x : f)
    total += x;
  const std::uint64_t busy = total - f[3] - f[4];
  std::lock_guard lock(mutex_);
  const std::uint64_t dt = total - last_total_;
  const std::uint64_t db = busy - last_busy_;
  last_total_ = total;
  last_busy_ = busy;
  if (dt == 0) return std::nullopt;
  return 100.0 * static_cast<double>(db) / static_cast<double>(dt);
}

}  // namespace emqxd::proc
