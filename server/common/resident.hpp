#pragma once
// Resident memory that start-up leaves behind and idle running does not need.

namespace emqxd {

// Unmaps this executable's code pages and returns freed heap to the kernel. Code pages
// are clean and come back from the page cache on their next use, so only the code that
// runs stays resident. Why: this disk reads ahead 8 MiB and the kernel maps 64 KiB around
// each faulting page, so the few hundred functions that start-up runs once (gRPC's,
// protobuf's and RocksDB's initializers) leave ~10 MiB of a 13 MiB text resident. Call
// once, after start-up; any thread.
void trim_resident_memory();

// Returns the heap's free pages to the kernel (malloc_trim). glibc keeps what a connection
// freed in its arenas, so a few connections that held megabytes each (an attack cut short by
// force_shutdown, say) would leave the process that much larger for good. It walks every
// arena under its lock: call it rarely (net::Worker::trim_heap_soon); any thread.
void return_free_heap();

}  // namespace emqxd
