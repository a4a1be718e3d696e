// Checksums for hpcai's files: SHA-256 for dataset shards (manifest.json,
// `hpcai data inspect --verify`) and CRC-32C for checkpoint tensors (fast
// enough to run inline with a checkpoint write).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "hpcai/base/status.h"

namespace hpcai::io {

// Incremental SHA-256 (FIPS 180-4).  Not thread-safe; one object per stream.
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t n);
  // Finishes the hash and returns it as 64 lowercase hex digits.  The object
  // must not be updated afterwards.
  std::string HexDigest();

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

// SHA-256 of a whole file, streamed (constant memory).  NotFound/IOError name the file.
Result<std::string> Sha256File(const std::string& path);

// CRC-32C (Castagnoli), the iSCSI/ext4 polynomial; uses the SSE4.2 crc32
// instruction when the CPU has it.  Chain calls by passing the previous
// result as `crc` (start with 0).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
namespace detail {
// The table-driven CRC-32C (no CPU extensions): tests compare Crc32c with it.
uint32_t Crc32cReference(const void* data, size_t n, uint32_t crc = 0);
}  // namespace detail

}  // namespace hpcai::io
