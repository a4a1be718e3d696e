// SHA-256 (FIPS 180-4): the spec hash (the experiment's identity, configs/)
// and the dataset shard digests (manifest.json, `hpcai data inspect --verify`,
// io/).  Small, dependency-free; tested against the NIST vectors in
// tests/configs/sha256_test.cc and tests/io/checksum_test.cc.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "hpcai/base/status.h"

namespace hpcai {

// Incremental hasher: Update() any number of times, then Final() once.
// Not thread-safe; cheap to copy.
class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(std::string_view s) { Update(s.data(), s.size()); }
  // Returns the 32-byte digest.  The object must not be updated afterwards.
  std::array<uint8_t, 32> Final();
  // Final() as 64 lower-case hex digits (same rule: call once, at the end).
  std::string HexDigest();

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes
};

// Lower-case hex sha256 of `data` (64 characters).
std::string Sha256Hex(std::string_view data);

// Lower-case hex sha256 of a whole file, streamed (constant memory).
// NotFound when the file does not exist, IOError for other open/read
// failures; both name the file.
Result<std::string> Sha256File(const std::string& path);

}  // namespace hpcai
