// Fused softmax + cross-entropy over rows of logits.
#include <limits>

#include "hpcai/kernels/cpu.h"

namespace hpcai::kernels::cpu {

double SoftmaxCrossEntropy(int64_t n, int64_t c, const float* logits, const int32_t* labels,
                           float scale, float* dlogits, int64_t* correct) {
  double loss_sum = 0.0;
  int64_t hits = 0;
  for (int64_t i = 0; i < n; ++i) {
    const float* x = logits + i * c;
    // Max first (also the argmax for accuracy: the first maximum wins).
    float m = x[0];
    int64_t arg = 0;
    for (int64_t j = 1; j < c; ++j) {
      if (x[j] > m) {
        m = x[j];
        arg = j;
      }
    }
    float s = 0.0f;
    for (int64_t j = 0; j < c; ++j) s += expf(x[j] - m);
    const int32_t label = labels[i];
    const bool valid = label >= 0 && label < c;
    if (valid) {
      loss_sum += XentRowLoss(x[label], m, s);
      if (arg == label) ++hits;
    } else {
      loss_sum += std::numeric_limits<double>::quiet_NaN();
    }
    if (dlogits != nullptr) {
      const float inv = 1.0f / s;
      float* dx = dlogits + i * c;
      for (int64_t j = 0; j < c; ++j) dx[j] = XentGrad(x[j], m, inv, j == label, scale);
    }
  }
  if (correct != nullptr) *correct += hits;
  return loss_sum;
}

}  // namespace hpcai::kernels::cpu
