// Reductions and the optimizer update loops.
#include "hpcai/kernels/cpu.h"
#include "hpcai/kernels/elements.h"

namespace hpcai::kernels::cpu {
double SumSquares(int64_t n, const float* x) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kSumBlock) {
    total += SumSquaresBlock(x, b, b + kSumBlock < n ? b + kSumBlock : n);
  }
  return total;
}

int64_t FirstNonFinite(int64_t n, const float* x) {
  for (int64_t i = 0; i < n; ++i) {
    if (!IsFiniteBits(x[i])) return i;
  }
  return -1;
}

void AddInto(int64_t n, const float* __restrict__ src, float* __restrict__ dst) {
  for (int64_t i = 0; i < n; ++i) dst[i] += src[i];
}

void SgdStep(int64_t n, const SgdParams& h, const float* __restrict__ g, float* __restrict__ p,
             float* __restrict__ v) {
  const SgdParams hh = h;  // local copy: lets the compiler keep the scalars in registers
  for (int64_t i = 0; i < n; ++i) SgdUpdate(hh, g[i], p + i, v + i);
}

void AdamStep(int64_t n, const AdamParams& h, const float* __restrict__ g, float* __restrict__ p,
              float* __restrict__ m, float* __restrict__ v) {
  const AdamParams hh = h;
  for (int64_t i = 0; i < n; ++i) AdamUpdate(hh, g[i], p + i, m + i, v + i);
}

}  // namespace hpcai::kernels::cpu
