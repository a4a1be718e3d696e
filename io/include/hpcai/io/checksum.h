// Checksums for hpcai's files: SHA-256 for dataset shards (manifest.json,
// `hpcai data inspect --verify`) and CRC-32C for checkpoint tensors (fast
// enough to run inline with a checkpoint write).
#pragma once

#include <cstddef>
#include <cstdint>

#include "hpcai/base/sha256.h"

namespace hpcai::io {

// SHA-256 (Sha256, Sha256File) is the base library's (hpcai/base/sha256.h),
// shared with configs/' spec hash; io code names it unqualified (hpcai::).

// CRC-32C (Castagnoli), the iSCSI/ext4 polynomial; uses the SSE4.2 crc32
// instruction when the CPU has it.  Chain calls by passing the previous
// result as `crc` (start with 0).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
namespace detail {
// The table-driven CRC-32C (no CPU extensions): tests compare Crc32c with it.
uint32_t Crc32cReference(const void* data, size_t n, uint32_t crc = 0);
}  // namespace detail

}  // namespace hpcai::io
