// Fused softmax + cross-entropy over rows of logits: the shared row function
// (elements.h) per row, exactly what the CUDA kernel runs per thread.
#include "hpcai/kernels/cpu.h"
#include "hpcai/kernels/elements.h"

namespace hpcai::kernels::cpu {

double SoftmaxCrossEntropy(int64_t n, int64_t c, const float* logits, const int32_t* labels,
                           float scale, float* dlogits, int64_t* correct) {
  double loss_sum = 0.0;
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    int hit = 0;
    loss_sum += XentRow(c, logits + i * c, labels[i], scale,
                        dlogits != nullptr ? dlogits + i * c : nullptr, &hit);
    hits += hit;
  }
  if (correct != nullptr) *correct += hits;
  return loss_sum;
}

}  // namespace hpcai::kernels::cpu
