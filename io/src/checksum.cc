// CRC-32C (SHA-256 lives in the base library: configs/base/sha256.cc).
// Tested against the published vectors in tests/io/checksum_test.cc.
#include "hpcai/io/checksum.h"

#include <cstring>
#include <vector>

namespace hpcai::io {

// ---- CRC-32C -------------------------------------------------------------------

namespace {
struct Crc32cTable {
  uint32_t t[8][256];
  Crc32cTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
      t[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; ++i) {
      for (int s = 1; s < 8; ++s) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
    }
  }
};

uint32_t Crc32cPortable(const uint8_t* p, size_t n, uint32_t crc) {
  static const Crc32cTable tab;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    v ^= crc;
    crc = tab.t[7][v & 0xff] ^ tab.t[6][(v >> 8) & 0xff] ^ tab.t[5][(v >> 16) & 0xff] ^
          tab.t[4][(v >> 24) & 0xff] ^ tab.t[3][(v >> 32) & 0xff] ^ tab.t[2][(v >> 40) & 0xff] ^
          tab.t[1][(v >> 48) & 0xff] ^ tab.t[0][v >> 56];
    p += 8;
    n -= 8;
  }
  while (n--) crc = (crc >> 8) ^ tab.t[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
// One crc32q per 8 bytes: ~8 bytes per 3 cycles (the instruction's latency),
// several GB/s, far above the checkpoint write path's needs.
__attribute__((target("sse4.2"))) uint32_t Crc32cHw(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return c32;
}

// Three independent crc32q chains hide the instruction's 3-cycle latency
// (~3x one chain).  Each block of 3 lanes of kLane bytes is folded back into
// one CRC with the "shift by kLane zero bytes" operator, which is linear over
// GF(2): reg(A || B) = shift_|B|(reg(A)) ^ reg_from_0(B); the operator is
// tabulated per byte of the register (4 x 256 entries).
constexpr size_t kLane = 8192;

struct ShiftTable {
  uint32_t t[4][256];
  ShiftTable() {
    const std::vector<uint8_t> zeros(kLane, 0);
    uint32_t basis[32];
    for (int i = 0; i < 32; ++i) basis[i] = Crc32cHw(zeros.data(), kLane, uint32_t{1} << i);
    for (int k = 0; k < 4; ++k) {
      for (uint32_t b = 0; b < 256; ++b) {
        uint32_t v = 0;
        for (int i = 0; i < 8; ++i) {
          if (b & (1u << i)) v ^= basis[8 * k + i];
        }
        t[k][b] = v;
      }
    }
  }
  uint32_t Shift(uint32_t c) const {
    return t[0][c & 0xff] ^ t[1][(c >> 8) & 0xff] ^ t[2][(c >> 16) & 0xff] ^ t[3][c >> 24];
  }
};

__attribute__((target("sse4.2"))) uint32_t Crc32cHw3(const uint8_t* p, size_t n, uint32_t crc) {
  static const ShiftTable shift;
  while (n >= 3 * kLane) {
    uint64_t a = crc, b = 0, c = 0;
    const uint8_t* pa = p;
    const uint8_t* pb = p + kLane;
    const uint8_t* pc = p + 2 * kLane;
    for (size_t i = 0; i < kLane; i += 8) {
      uint64_t va, vb, vc;
      std::memcpy(&va, pa + i, 8);
      std::memcpy(&vb, pb + i, 8);
      std::memcpy(&vc, pc + i, 8);
      a = __builtin_ia32_crc32di(a, va);
      b = __builtin_ia32_crc32di(b, vb);
      c = __builtin_ia32_crc32di(c, vc);
    }
    crc = shift.Shift(shift.Shift(static_cast<uint32_t>(a)) ^ static_cast<uint32_t>(b)) ^ static_cast<uint32_t>(c);
    p += 3 * kLane;
    n -= 3 * kLane;
  }
  return Crc32cHw(p, n, crc);
}
#endif
}  // namespace

namespace detail {
uint32_t Crc32cReference(const void* data, size_t n, uint32_t crc) {
  return ~Crc32cPortable(static_cast<const uint8_t*>(data), n, ~crc);
}
}  // namespace detail

uint32_t Crc32c(const void* data, size_t n, uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
#if defined(__x86_64__)
  static const bool hw = __builtin_cpu_supports("sse4.2");
  crc = hw ? Crc32cHw3(p, n, crc) : Crc32cPortable(p, n, crc);
#else
  crc = Crc32cPortable(p, n, crc);
#endif
  return ~crc;
}

}  // namespace hpcai::io
