// Max pooling on the device: one thread per output (forward) or per input
// element (backward, gather form: windows do not overlap), running
// elements.h's functions.
#include "common.h"
#include "launch.h"

namespace hpcai::kernels::cuda::launch {
namespace {

struct PoolOp {
  PoolGeometry g;
  const float* x;
  float* y;
  int32_t* argmax;
  __device__ void operator()(int64_t i) const { y[i] = MaxPoolElement(g, x, i, argmax + i); }
};
struct PoolBackwardOp {
  PoolGeometry g;
  const float* dy;
  const int32_t* argmax;
  float* dx;
  __device__ void operator()(int64_t i) const { dx[i] = MaxPoolBackwardElement(g, dy, argmax, i); }
};

}  // namespace

void MaxPoolForward(cudaStream_t s, const PoolGeometry& g, int64_t n, const float* x, float* y,
                    int32_t* argmax) {
  ForEach(s, n * g.out_h() * g.out_w() * g.c, PoolOp{g, x, y, argmax});
}

void MaxPoolBackward(cudaStream_t s, const PoolGeometry& g, int64_t n, const float* dy,
                     const int32_t* argmax, float* dx) {
  ForEach(s, n * g.h * g.w * g.c, PoolBackwardOp{g, dy, argmax, dx});
}

}  // namespace hpcai::kernels::cuda::launch
