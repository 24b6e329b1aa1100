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

}  // namespace emqxd
