// Reductions on the device.  SumSquares: one thread per kSumBlock block
// running elements.h's SumSquaresBlock (the CPU's per-block arithmetic), then
// one thread adding the blocks in order, exactly as cpu::SumSquares does.
#include "common.h"
#include "launch.h"

namespace hpcai::kernels::cuda::launch {
namespace {

struct BlockOp {
  int64_t n;
  const float* x;
  double* partial;
  __device__ void operator()(int64_t b) const {
    const int64_t begin = b * kSumBlock;
    const int64_t end = begin + kSumBlock < n ? begin + kSumBlock : n;
    partial[b] = SumSquaresBlock(x, begin, end);
  }
};

__global__ void SumInOrderKernel(int64_t parts, const double* partial, double* out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double total = 0.0;
  for (int64_t i = 0; i < parts; ++i) total += partial[i];
  *out = total;
}

struct NonFiniteOp {
  const float* x;
  unsigned long long* out;
  __device__ void operator()(int64_t i) const {
    if (!IsFiniteBits(x[i])) atomicMin(out, static_cast<unsigned long long>(i));
  }
};

struct AddOp {
  const float* src;
  float* dst;
  __device__ void operator()(int64_t i) const { dst[i] += src[i]; }
};

struct ScaleOp {
  int64_t n, ldc;
  float beta;
  float* c;
  __device__ void operator()(int64_t i) const {
    float* e = c + (i / n) * ldc + (i % n);
    *e = beta == 0.0f ? 0.0f : beta * *e;
  }
};

__global__ void SetKernel(unsigned long long* out, unsigned long long v) { *out = v; }

}  // namespace

void SumSquares(cudaStream_t s, int64_t n, const float* x, double* partial, double* out) {
  const int64_t parts = (n + kSumBlock - 1) / kSumBlock;
  ForEach(s, parts, BlockOp{n, x, partial});
  SumInOrderKernel<<<1, 1, 0, s>>>(parts, partial, out);
  HPCAI_CUDA_LAUNCH_CHECK();
}

void FirstNonFinite(cudaStream_t s, int64_t n, const float* x, unsigned long long* out) {
  SetKernel<<<1, 1, 0, s>>>(out, static_cast<unsigned long long>(n));
  HPCAI_CUDA_LAUNCH_CHECK();
  ForEach(s, n, NonFiniteOp{x, out});
}

void AddInto(cudaStream_t s, int64_t n, const float* src, float* dst) {
  ForEach(s, n, AddOp{src, dst});
}

void ScaleMatrix(cudaStream_t s, int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  ForEach(s, m * n, ScaleOp{n, ldc, beta, c});
}

}  // namespace hpcai::kernels::cuda::launch
