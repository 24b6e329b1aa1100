#pragma once
// What Linux says about the machine and this process (/proc, getrusage, getrlimit), for
// the Prometheus endpoint (api/prometheus.hpp) and the memory alarms (app/sysmon.hpp).
// Each reader returns nullopt when the kernel does not tell (no /proc). Any thread.
#include <cstdint>
#include <mutex>
#include <optional>

namespace emqxd::proc {

struct SystemMemory {
  std::uint64_t total = 0;      // MemTotal, bytes
  std::uint64_t available = 0;  // MemAvailable, bytes: what can be had without swapping
  std::uint64_t used() const { return total > available ? total - available : 0; }
};
std::optional<SystemMemory> system_memory();

std::optional<std::uint64_t> resident_bytes();  // this process's resident set
std::optional<std::uint64_t> virtual_bytes();   // this process's address space
double cpu_seconds();                           // user + system CPU time of this process
std::optional<std::uint64_t> open_fds();        // entries of /proc/self/fd
std::optional<std::uint64_t> max_fds();         // RLIMIT_NOFILE, soft

// The machine's CPU use, in percent, between two calls (EMQX's cpu_sup:util()): the first
// call measures since boot. One per consumer: it remembers its last reading.
class CpuUse {
 public:
  std::optional<double> percent();

 private:
  std::mutex mutex_;
  std::uint64_t last_busy_ = 0, last_total_ = 0;  // guarded by mutex_
};

}  // namespace emqxd::proc
