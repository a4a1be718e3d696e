// Softmax + cross-entropy on the device: one thread per row running
// elements.h's XentRow (the CPU kernel's per-row function), then one thread
// summing the per-row losses and hits in row order (deterministic, and the
// same additions as the CPU's loop).
#include "common.h"
#include "launch.h"

namespace hpcai::kernels::cuda::launch {
namespace {

struct RowOp {
  int64_t c;
  const float* logits;
  const int32_t* labels;
  float scale;
  float* dlogits;
  double* row_loss;
  int* row_hit;
  __device__ void operator()(int64_t i) const {
    int hit = 0;
    row_loss[i] = XentRow(c, logits + i * c, labels[i], scale,
                          dlogits != nullptr ? dlogits + i * c : nullptr, &hit);
    row_hit[i] = hit;
  }
};

__global__ void SumRowsKernel(int64_t n, const double* row_loss, const int* row_hit,
                              double* loss_out, long long* hits_out) {
  if (blockIdx.x != 0 || threadIdx.x != 0) return;
  double loss = 0.0;
  long long hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    loss += row_loss[i];
    hits += row_hit[i];
  }
  *loss_out = loss;
  *hits_out = hits;
}

}  // namespace

void SoftmaxCrossEntropy(cudaStream_t s, int64_t n, int64_t c, const float* logits,
                         const int32_t* labels, float scale, float* dlogits, double* row_loss,
                         int* row_hit, double* loss_out, long long* hits_out) {
  ForEach(s, n, RowOp{c, logits, labels, scale, dlogits, row_loss, row_hit});
  SumRowsKernel<<<1, 1, 0, s>>>(n, row_loss, row_hit, loss_out, hits_out);
  HPCAI_CUDA_LAUNCH_CHECK();
}

}  // namespace hpcai::kernels::cuda::launch
