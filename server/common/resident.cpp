#include "common/resident.hpp"

#include <malloc.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

extern "C" char __executable_start;  // the linker's: first byte of the image
extern "C" char etext;               // the linker's: end of the code

namespace emqxd {

void trim_resident_memory() {
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  auto start = reinterpret_cast<std::uintptr_t>(&__executable_start) & ~(page - 1);
  auto end = (reinterpret_cast<std::uintptr_t>(&etext) + page - 1) & ~(page - 1);
  if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
  malloc_trim(0);
}

void return_free_heap() {
  malloc_trim(0);
}

}  // namespace emqxd
