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

// HDF5's Fletcher-32 (the chunk checksum filter, H5Pset_fletcher32): the
// value H5_checksum_fletcher32 returns for the same bytes, which the filter
// stores little-endian after each chunk's data.  Big-endian 16-bit words
// (an odd last byte is the high byte of a word); both sums mod 65535, where a
// sum of nothing but zero words is 0 and any other multiple of 65535 reads
// 0xffff.  Computed in 16 independent lanes (vectorised), ~10x HDF5's loop.
uint32_t Fletcher32(const void* data, size_t n);

namespace detail {
// Fletcher32 without its AVX2 path: tests compare both with HDF5's.
uint32_t Fletcher32Portable(const void* data, size_t n);
// The table-driven CRC-32C (no CPU extensions): tests compare Crc32c with it.
uint32_t Crc32cReference(const void* data, size_t n, uint32_t crc = 0);
}  // namespace detail

}  // namespace hpcai::io
