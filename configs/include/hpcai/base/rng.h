// Deterministic, portable random numbers.  The same seed gives the same
// stream on every machine and compiler (no std::*_distribution, whose output
// is implementation-defined).  State is two 64-bit words, saved in checkpoints.
#pragma once

#include <cmath>
#include <cstdint>

namespace hpcai {

// splitmix64: seeds and hashes (seed, a, b) tuples into independent streams.
inline uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}
// A stream id derived from a seed and up to two integers (e.g. (seed, epoch)).
inline uint64_t MixSeed(uint64_t seed, uint64_t a = 0, uint64_t b = 0) {
  uint64_t s = seed;
  uint64_t x = SplitMix64(&s) ^ (a * 0xD1B54A32D192ED03ull);
  s = x;
  x = SplitMix64(&s) ^ (b * 0x8CB92BA72F3D8DD7ull);
  s = x;
  return SplitMix64(&s);
}

// xoroshiro128+ generator.  Not thread-safe; one per thread/purpose.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) { Seed(seed); }
  void Seed(uint64_t seed) {
    uint64_t s = seed;
    s0_ = SplitMix64(&s);
    s1_ = SplitMix64(&s);
    if (s0_ == 0 && s1_ == 0) s1_ = 1;
  }
  uint64_t NextU64() {
    uint64_t a = s0_, b = s1_, r = a + b;
    b ^= a;
    s0_ = ((a << 24) | (a >> 40)) ^ b ^ (b << 16);
    s1_ = (b << 37) | (b >> 27);
    return r;
  }
  // Uniform in [0, 1) with 24 random bits (exactly representable as float).
  float Uniform() { return static_cast<float>(NextU64() >> 40) * (1.0f / 16777216.0f); }
  // Uniform integer in [0, n) (Lemire's method without the rejection bias fix-up cost mattering here).
  uint64_t Below(uint64_t n) {
    __uint128_t m = static_cast<__uint128_t>(NextU64()) * n;
    return static_cast<uint64_t>(m >> 64);
  }
  // Standard normal via Box-Muller (uses two draws; deterministic).
  float Normal() {
    float u1 = Uniform(), u2 = Uniform();
    if (u1 < 1e-12f) u1 = 1e-12f;
    return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530717958647692f * u2);
  }
  // State for checkpoints.
  uint64_t state0() const { return s0_; }
  uint64_t state1() const { return s1_; }
  void SetState(uint64_t s0, uint64_t s1) { s0_ = s0; s1_ = s1; }

 private:
  uint64_t s0_ = 0, s1_ = 1;
};

}  // namespace hpcai
