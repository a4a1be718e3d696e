// Bias + activation + dropout on the device: one thread per element running
// elements.h's BiasActForwardElement / BiasActBackwardElement (the functions
// the CPU kernels run), and one thread per column for bias gradients
// (BiasGradColumn: the CPU's additions in the CPU's order).
#include "common.h"
#include "launch.h"

namespace hpcai::kernels::cuda::launch {
namespace {

template <Activation A, bool kDrop>
struct ForwardOp {
  int64_t d;
  const float* bias;
  float* z;
  float* y;
  DropoutParams dp;
  uint64_t base;  // row_offset * d
  __device__ void operator()(int64_t i) const {
    const float v = z[i] + bias[i % d];
    z[i] = v;
    y[i] = BiasActForwardElement<A, kDrop>(v, dp, base + static_cast<uint64_t>(i));
  }
};

template <Activation A, bool kDrop, bool kFromZ>
struct BackwardOp {
  const float* saved;
  const float* dy;
  float* dz;
  DropoutParams dp;
  uint64_t base;
  __device__ void operator()(int64_t i) const {
    dz[i] = BiasActBackwardElement<A, kDrop, kFromZ>(saved[i], dy[i], dp, base + static_cast<uint64_t>(i));
  }
};

struct BiasGradOp {
  int64_t n, ld;
  const float* g;
  float* dbias;
  bool accumulate;
  __device__ void operator()(int64_t j) const {
    const double total = BiasGradColumn(n, ld, g, j);
    dbias[j] = accumulate ? static_cast<float>(dbias[j] + total) : static_cast<float>(total);
  }
};

bool Dropping(const DropoutParams* dp) { return dp != nullptr && dp->threshold < (1u << 24); }

template <Activation A>
void Forward(cudaStream_t s, int64_t n, int64_t d, const float* bias, float* z, float* y,
             const DropoutParams* dp, int64_t row_offset) {
  const uint64_t base = static_cast<uint64_t>(row_offset) * static_cast<uint64_t>(d);
  if (Dropping(dp)) {
    ForEach(s, n * d, ForwardOp<A, true>{d, bias, z, y, *dp, base});
  } else {
    ForEach(s, n * d, ForwardOp<A, false>{d, bias, z, y, DropoutParams{}, base});
  }
}

template <Activation A>
void Backward(cudaStream_t s, int64_t n, int64_t d, const float* saved, bool from_z,
              const float* dy, const DropoutParams* dp, int64_t row_offset, float* dz) {
  const uint64_t base = static_cast<uint64_t>(row_offset) * static_cast<uint64_t>(d);
  const int64_t count = n * d;
  const DropoutParams none{};
  if (Dropping(dp) && from_z) {
    ForEach(s, count, BackwardOp<A, true, true>{saved, dy, dz, *dp, base});
  } else if (Dropping(dp)) {
    ForEach(s, count, BackwardOp<A, true, false>{saved, dy, dz, *dp, base});
  } else if (from_z) {
    ForEach(s, count, BackwardOp<A, false, true>{saved, dy, dz, none, base});
  } else {
    ForEach(s, count, BackwardOp<A, false, false>{saved, dy, dz, none, base});
  }
}

}  // namespace

void BiasActivationForward(cudaStream_t s, Activation act, int64_t n, int64_t d,
                           const float* bias, float* z, float* y, const DropoutParams* dropout,
                           int64_t row_offset) {
  switch (act) {
    case Activation::kIdentity:
      return Forward<Activation::kIdentity>(s, n, d, bias, z, y, dropout, row_offset);
    case Activation::kRelu:
      return Forward<Activation::kRelu>(s, n, d, bias, z, y, dropout, row_offset);
    case Activation::kGelu:
      return Forward<Activation::kGelu>(s, n, d, bias, z, y, dropout, row_offset);
    case Activation::kTanh:
      return Forward<Activation::kTanh>(s, n, d, bias, z, y, dropout, row_offset);
  }
}

void BiasActivationBackward(cudaStream_t s, Activation act, int64_t n, int64_t d,
                            const float* saved, bool saved_is_z, const float* dy,
                            const DropoutParams* dropout, int64_t row_offset, float* dz) {
  switch (act) {
    case Activation::kIdentity:
      return Backward<Activation::kIdentity>(s, n, d, saved, saved_is_z, dy, dropout, row_offset, dz);
    case Activation::kRelu:
      return Backward<Activation::kRelu>(s, n, d, saved, saved_is_z, dy, dropout, row_offset, dz);
    case Activation::kGelu:
      return Backward<Activation::kGelu>(s, n, d, saved, saved_is_z, dy, dropout, row_offset, dz);
    case Activation::kTanh:
      return Backward<Activation::kTanh>(s, n, d, saved, saved_is_z, dy, dropout, row_offset, dz);
  }
}

void BiasGrad(cudaStream_t s, int64_t n, int64_t d, int64_t ld, const float* g, float* dbias,
              bool accumulate) {
  ForEach(s, d, BiasGradOp{n, ld, g, dbias, accumulate});
}

}  // namespace hpcai::kernels::cuda::launch
