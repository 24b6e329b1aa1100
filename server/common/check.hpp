#pragma once
// EMQXD_CHECK(cond, "what"): an invariant that stays checked in release builds. When it
// does not hold, the process logs "file:line: check failed: cond (what)" and aborts.
//
// Why abort rather than throw: the checks guard the data plane (the MQTT codec, the
// retainer, storage batches), where nothing may throw (docs/contributing.md, "Errors are
// values on the hot path"): an exception there unwinds out of a worker's io_context::run() or a
// storage thread and ends the process anyway, later and with less said; and carrying on past a
// broken invariant in the codec or in storage would send a corrupt packet or write a corrupt
// record, which is worse than a crash that names the line. Errors that input can cause are
// Result<T> values, never checks.
//
// Cost: one predictable branch; the failure path is out of line. Fine per packet.
namespace emqxd::detail {

// Logs (stderr, and the default logger when there is one), flushes, aborts. Never returns.
[[noreturn]] void check_failed(const char* file, int line, const char* condition,
                               const char* what) noexcept;

}  // namespace emqxd::detail

#define EMQXD_CHECK(cond, what)                                       \
  do {                                                                \
    if (!(cond)) [[unlikely]] {                                       \
      ::emqxd::detail::check_failed(__FILE__, __LINE__, #cond, what); \
    }                                                                 \
  } while (false)
