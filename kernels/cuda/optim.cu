// Optimizer updates on the device: one thread per element running math.h's
// SgdUpdate / AdamUpdate (the functions the CPU loops run).
#include "common.h"
#include "launch.h"

namespace hpcai::kernels::cuda::launch {
namespace {

struct SgdOp {
  SgdParams h;
  const float* g;
  float* p;
  float* v;
  __device__ void operator()(int64_t i) const { SgdUpdate(h, g[i], p + i, v + i); }
};
struct AdamOp {
  AdamParams h;
  const float* g;
  float* p;
  float* m;
  float* v;
  __device__ void operator()(int64_t i) const { AdamUpdate(h, g[i], p + i, m + i, v + i); }
};

}  // namespace

void SgdStep(cudaStream_t s, int64_t n, const SgdParams& h, const float* g, float* p, float* v) {
  ForEach(s, n, SgdOp{h, g, p, v});
}

void AdamStep(cudaStream_t s, int64_t n, const AdamParams& h, const float* g, float* p, float* m,
              float* v) {
  ForEach(s, n, AdamOp{h, g, p, m, v});
}

}  // namespace hpcai::kernels::cuda::launch
