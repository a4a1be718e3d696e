// CRC-32C (SHA-256 lives in the base library: configs/base/sha256.cc).
// Tested against the published vectors in tests/io/checksum_test.cc.
#include "hpcai/io/checksum.h"

#include <algorithm>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

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

namespace {

// Fletcher-32 lanes (see Fletcher32): HDF5 adds words one at a time,
// sum1 += w; sum2 += sum1.  Over a block of L = 16 words that is
// sum2 += L * sum1_before + sum_j (L - j) * w_j, so lane j keeps s1[j] (its
// words) and ps[j] (the sum of s1[j] before each block), and at the end
// sum2 = L * sum(ps) + sum_j (L - j) * s1[j].  Lanes are folded mod 65535
// (65536 = 1) every kFoldEvery blocks, so they never overflow 32 bits.
constexpr size_t kLanes = 16, kFoldEvery = 128;
struct FletcherLanes {
  uint32_t s1[kLanes] = {}, ps[kLanes] = {};
  bool any = false;  // a non-zero word was seen
};

void FletcherBlocksPortable(const uint8_t* p, size_t blocks, FletcherLanes* f) {
  uint32_t any = 0;
  for (size_t b = 0; b < blocks;) {
    const size_t end = std::min(blocks, b + kFoldEvery);
    for (; b < end; ++b) {
      const uint8_t* q = p + b * 2 * kLanes;
      for (size_t j = 0; j < kLanes; ++j) {
        const uint32_t w = static_cast<uint32_t>(q[2 * j]) << 8 | q[2 * j + 1];
        f->ps[j] += f->s1[j];
        f->s1[j] += w;
        any |= w;
      }
    }
    for (size_t j = 0; j < kLanes; ++j) {
      f->s1[j] = (f->s1[j] & 0xffff) + (f->s1[j] >> 16);
      f->ps[j] = (f->ps[j] & 0xffff) + (f->ps[j] >> 16);
    }
  }
  f->any = f->any || any != 0;
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) void FletcherBlocksAvx2(const uint8_t* p, size_t blocks, FletcherLanes* f) {
  const __m128i swap = _mm_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
  const __m256i lo16 = _mm256_set1_epi32(0xffff);
  __m256i s1a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f->s1));
  __m256i s1b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f->s1 + 8));
  __m256i psa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f->ps));
  __m256i psb = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(f->ps + 8));
  __m128i any = _mm_setzero_si128();
  for (size_t b = 0; b < blocks;) {
    const size_t end = std::min(blocks, b + kFoldEvery);
    for (; b < end; ++b) {
      const uint8_t* q = p + b * 2 * kLanes;
      const __m128i ra = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q));
      const __m128i rb = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + 16));
      any = _mm_or_si128(any, _mm_or_si128(ra, rb));
      psa = _mm256_add_epi32(psa, s1a);
      psb = _mm256_add_epi32(psb, s1b);
      s1a = _mm256_add_epi32(s1a, _mm256_cvtepu16_epi32(_mm_shuffle_epi8(ra, swap)));  // words j = 0..7
      s1b = _mm256_add_epi32(s1b, _mm256_cvtepu16_epi32(_mm_shuffle_epi8(rb, swap)));  // words j = 8..15
    }
    s1a = _mm256_add_epi32(_mm256_and_si256(s1a, lo16), _mm256_srli_epi32(s1a, 16));
    s1b = _mm256_add_epi32(_mm256_and_si256(s1b, lo16), _mm256_srli_epi32(s1b, 16));
    psa = _mm256_add_epi32(_mm256_and_si256(psa, lo16), _mm256_srli_epi32(psa, 16));
    psb = _mm256_add_epi32(_mm256_and_si256(psb, lo16), _mm256_srli_epi32(psb, 16));
  }
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(f->s1), s1a);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(f->s1 + 8), s1b);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(f->ps), psa);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(f->ps + 8), psb);
  f->any = f->any || !_mm_testz_si128(any, any);
}
#endif

}  // namespace

namespace {
uint32_t Fletcher32With(const void* data, size_t n, bool avx2) {
  const auto* p = static_cast<const uint8_t*>(data);
  const size_t words = n / 2, blocks = words / kLanes;
  FletcherLanes f;
#if defined(__x86_64__)
  if (avx2) {
    FletcherBlocksAvx2(p, blocks, &f);
  } else {
    FletcherBlocksPortable(p, blocks, &f);
  }
#else
  (void)avx2;
  FletcherBlocksPortable(p, blocks, &f);
#endif
  uint64_t sum1 = 0, sum2 = 0;
  for (size_t j = 0; j < kLanes; ++j) {
    sum1 += f.s1[j];
    sum2 += kLanes * static_cast<uint64_t>(f.ps[j]) + (kLanes - j) * static_cast<uint64_t>(f.s1[j]);
  }
  sum1 %= 65535;
  sum2 %= 65535;
  bool nonzero = f.any;
  auto add = [&](uint32_t w) {
    sum1 = (sum1 + w) % 65535;
    sum2 = (sum2 + sum1) % 65535;
    nonzero = nonzero || w != 0;
  };
  for (size_t i = blocks * kLanes; i < words; ++i) add(static_cast<uint32_t>(p[2 * i]) << 8 | p[2 * i + 1]);
  if (n % 2 != 0) add(static_cast<uint32_t>(p[n - 1]) << 8);
  if (!nonzero) return 0;
  // HDF5's end-around-carry folds never turn a positive sum into 0.
  const uint32_t a = sum1 == 0 ? 0xffff : static_cast<uint32_t>(sum1);
  const uint32_t b = sum2 == 0 ? 0xffff : static_cast<uint32_t>(sum2);
  return b << 16 | a;
}
}  // namespace

uint32_t Fletcher32(const void* data, size_t n) {
#if defined(__x86_64__)
  static const bool avx2 = __builtin_cpu_supports("avx2");
#else
  constexpr bool avx2 = false;
#endif
  return Fletcher32With(data, n, avx2);
}

namespace detail {
uint32_t Fletcher32Portable(const void* data, size_t n) { return Fletcher32With(data, n, false); }
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
