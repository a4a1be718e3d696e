// Fused bias + activation + dropout, forward and backward (with bias grad).
// One pass over the GEMM output each way; the per-element math is math.h's.
#include <vector>

#include "hpcai/kernels/cpu.h"
#include "hpcai/kernels/elements.h"

namespace hpcai::kernels::cpu {
namespace {

// Bias gradients: the additions of elements.h's BiasGradColumn (fp32 blocks
// of kBiasBlockRows rows, blocks added in double), vectorised across columns.
// Per-thread scratch that only grows (no allocation per step once warm).
struct BiasScratch {
  std::vector<float> block;
  std::vector<double> total;
  void Reset(int64_t d) {
    if (static_cast<int64_t>(block.size()) < d) {
      block.resize(d);
      total.resize(d);
    }
    for (int64_t j = 0; j < d; ++j) {
      block[j] = 0.0f;
      total[j] = 0.0;
    }
  }
  void FlushBlock(int64_t d) {
    for (int64_t j = 0; j < d; ++j) {
      total[j] += block[j];
      block[j] = 0.0f;
    }
  }
  void Store(int64_t d, float* dbias, bool accumulate) {
    for (int64_t j = 0; j < d; ++j) {
      dbias[j] = accumulate ? static_cast<float>(dbias[j] + total[j]) : static_cast<float>(total[j]);
    }
  }
};
BiasScratch& Scratch() {
  thread_local BiasScratch s;
  return s;
}

template <Activation A, bool kDrop>
void ForwardImpl(int64_t n, int64_t d, const float* bias, float* z, float* y,
                 const DropoutParams& dp, int64_t row_offset) {
  for (int64_t i = 0; i < n; ++i) {
    float* zr = z + i * d;
    float* yr = y + i * d;
    const uint64_t base = static_cast<uint64_t>(row_offset + i) * static_cast<uint64_t>(d);
    for (int64_t j = 0; j < d; ++j) {
      const float v = zr[j] + bias[j];
      zr[j] = v;
      yr[j] = BiasActForwardElement<A, kDrop>(v, dp, base + j);
    }
  }
}

template <Activation A, bool kDrop, bool kFromZ, bool kBias>
void BackwardImpl(int64_t n, int64_t d, const float* saved, const float* dy,
                  const DropoutParams& dp, int64_t row_offset, float* dz, float* dbias,
                  bool accumulate) {
  BiasScratch& s = Scratch();
  if constexpr (kBias) s.Reset(d);
  float* __restrict__ block = s.block.data();
  for (int64_t i = 0; i < n; ++i) {
    const float* sr = saved + i * d;
    const float* gr = dy + i * d;
    float* dr = dz + i * d;
    const uint64_t base = static_cast<uint64_t>(row_offset + i) * static_cast<uint64_t>(d);
    for (int64_t j = 0; j < d; ++j) {
      const float v = BiasActBackwardElement<A, kDrop, kFromZ>(sr[j], gr[j], dp, base + j);
      dr[j] = v;
      if constexpr (kBias) block[j] += v;
    }
    if (kBias && (i + 1) % kBiasBlockRows == 0) s.FlushBlock(d);
  }
  if constexpr (kBias) {
    s.FlushBlock(d);
    s.Store(d, dbias, accumulate);
  }
}

template <Activation A>
void ForwardDrop(int64_t n, int64_t d, const float* bias, float* z, float* y,
                 const DropoutParams* dp, int64_t row_offset) {
  if (dp != nullptr && dp->threshold < (1u << 24)) {
    ForwardImpl<A, true>(n, d, bias, z, y, *dp, row_offset);
  } else {
    ForwardImpl<A, false>(n, d, bias, z, y, DropoutParams{}, row_offset);
  }
}

template <Activation A, bool kBias>
void BackwardBias(int64_t n, int64_t d, const float* saved, bool saved_is_z, const float* dy,
                  const DropoutParams* dp, int64_t row_offset, float* dz, float* dbias,
                  bool accumulate) {
  const DropoutParams none{};
  if (dp != nullptr && saved_is_z) {
    BackwardImpl<A, true, true, kBias>(n, d, saved, dy, *dp, row_offset, dz, dbias, accumulate);
  } else if (dp != nullptr) {
    BackwardImpl<A, true, false, kBias>(n, d, saved, dy, *dp, row_offset, dz, dbias, accumulate);
  } else if (saved_is_z) {
    BackwardImpl<A, false, true, kBias>(n, d, saved, dy, none, row_offset, dz, dbias, accumulate);
  } else {
    BackwardImpl<A, false, false, kBias>(n, d, saved, dy, none, row_offset, dz, dbias,
                                         accumulate);
  }
}

template <Activation A>
void BackwardDrop(int64_t n, int64_t d, const float* saved, bool saved_is_z, const float* dy,
                  const DropoutParams* dp, int64_t row_offset, float* dz, float* dbias,
                  bool accumulate) {
  const bool drop = dp != nullptr && dp->threshold < (1u << 24);
  if (dbias != nullptr) {
    BackwardBias<A, true>(n, d, saved, saved_is_z, dy, drop ? dp : nullptr, row_offset, dz, dbias,
                          accumulate);
  } else {
    BackwardBias<A, false>(n, d, saved, saved_is_z, dy, drop ? dp : nullptr, row_offset, dz,
                           dbias, accumulate);
  }
}

}  // namespace

void BiasActivationForward(Activation act, int64_t n, int64_t d, const float* bias, float* z,
                           float* y, const DropoutParams* dropout, int64_t row_offset) {
  switch (act) {
    case Activation::kIdentity:
      return ForwardDrop<Activation::kIdentity>(n, d, bias, z, y, dropout, row_offset);
    case Activation::kRelu:
      return ForwardDrop<Activation::kRelu>(n, d, bias, z, y, dropout, row_offset);
    case Activation::kGelu:
      return ForwardDrop<Activation::kGelu>(n, d, bias, z, y, dropout, row_offset);
    case Activation::kTanh:
      return ForwardDrop<Activation::kTanh>(n, d, bias, z, y, dropout, row_offset);
  }
}

void BiasActivationBackward(Activation act, int64_t n, int64_t d, const float* saved,
                            bool saved_is_z, const float* dy, const DropoutParams* dropout,
                            int64_t row_offset, float* dz, float* dbias, bool accumulate_bias) {
  switch (act) {
    case Activation::kIdentity:
      return BackwardDrop<Activation::kIdentity>(n, d, saved, saved_is_z, dy, dropout, row_offset,
                                                 dz, dbias, accumulate_bias);
    case Activation::kRelu:
      return BackwardDrop<Activation::kRelu>(n, d, saved, saved_is_z, dy, dropout, row_offset, dz,
                                             dbias, accumulate_bias);
    case Activation::kGelu:
      return BackwardDrop<Activation::kGelu>(n, d, saved, saved_is_z, dy, dropout, row_offset, dz,
                                             dbias, accumulate_bias);
    case Activation::kTanh:
      return BackwardDrop<Activation::kTanh>(n, d, saved, saved_is_z, dy, dropout, row_offset, dz,
                                             dbias, accumulate_bias);
  }
}

void BiasGrad(int64_t n, int64_t d, int64_t ld, const float* g, float* dbias, bool accumulate) {
  BiasScratch& s = Scratch();
  s.Reset(d);
  float* __restrict__ block = s.block.data();
  for (int64_t i = 0; i < n; ++i) {
    const float* gr = g + i * ld;
    for (int64_t j = 0; j < d; ++j) block[j] += gr[j];
    if ((i + 1) % kBiasBlockRows == 0) s.FlushBlock(d);
  }
  s.FlushBlock(d);
  s.Store(d, dbias, accumulate);
}

}  // namespace hpcai::kernels::cpu
