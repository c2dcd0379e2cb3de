// Resource limits: how much memory qsim may allocate for one model's tensors.
//
// Every Tensor allocation, the ONNX importer (the weights it would decode) and
// the executor (its planned arena plus weights) check their size against one
// process-wide limit *before* allocating, so a hostile or oversized model is
// refused with one clear line instead of being killed by the OOM killer.
//
// The limit is, in order of precedence:
//   1. set_memory_limit(bytes) (the CLI's --mem-limit),
//   2. the environment variable QSIM_MEM_LIMIT,
//   3. kDefaultMemoryFraction of physical memory (sysconf, else /proc/meminfo).
// Sizes are written as parse_byte_size accepts them: "2G", "512M", "1.5GiB",
// "100000" (bytes), or "25%" (of physical memory).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace qsim {

inline constexpr double kDefaultMemoryFraction = 0.5;

// Physical memory in bytes (sysconf(_SC_PHYS_PAGES) * page size, else MemTotal
// from /proc/meminfo, else 4 GiB when neither is readable).
int64_t physical_memory_bytes();

// "2G" -> 2147483648. Suffixes K, M, G, T (powers of 1024, optionally followed by
// "B" or "iB", any case); a plain number is bytes; "N%" is N percent of physical
// memory. Throws qsim::Error("<what>: '<text>' is not a size ...") otherwise or
// for a size that is zero, negative or above 2^62.
int64_t parse_byte_size(std::string_view text, std::string_view what);

// The limit in force (see above). Throws qsim::Error when QSIM_MEM_LIMIT is set
// but malformed.
int64_t memory_limit();
// Overrides the limit for this process; bytes <= 0 returns to the default
// (QSIM_MEM_LIMIT or the fraction of physical memory).
void set_memory_limit(int64_t bytes);

// Throws qsim::Error("<what> needs <size>, more than the memory limit of
// <limit> (set with --mem-limit or QSIM_MEM_LIMIT)") when bytes > memory_limit().
void check_memory(int64_t bytes, std::string_view what);

// "1.5 GiB", "512 MiB", "12 KiB", "100 B".
std::string format_bytes(int64_t bytes);

}  // namespace qsim
