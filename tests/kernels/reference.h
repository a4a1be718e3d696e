// Naive double-precision references for the CPU kernel tests.  Written for
// obviousness, not speed: plain loops over the definitions.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "hpcai/base/rng.h"

namespace hpcai::kernels::testing {

inline std::vector<float> RandomVector(int64_t n, uint64_t seed, float scale = 1.0f) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = scale * (2.0f * rng.Uniform() - 1.0f);
  return v;
}

// c(m,n) = op(a) op(b), row-major, in double.
inline std::vector<double> NaiveGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                                     const float* a, int64_t lda, const float* b, int64_t ldb) {
  std::vector<double> c(m * n, 0.0);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double s = 0.0;
      for (int64_t p = 0; p < k; ++p) {
        double av = ta ? a[p * lda + i] : a[i * lda + p];
        double bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += av * bv;
      }
      c[i * n + j] = s;
    }
  }
  return c;
}

// Direct convolution, NHWC input x: (n,h,w,c), weights w: (f, k, k, c), out: (n, oh, ow, f).
inline std::vector<double> NaiveConv(int64_t n, int64_t h, int64_t w, int64_t c, int64_t f,
                                     int64_t k, int64_t stride, int64_t pad, const float* x,
                                     const float* wt, int64_t* oh_out, int64_t* ow_out) {
  const int64_t oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
  *oh_out = oh;
  *ow_out = ow;
  std::vector<double> out(n * oh * ow * f, 0.0);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t y = 0; y < oh; ++y)
      for (int64_t xo = 0; xo < ow; ++xo)
        for (int64_t o = 0; o < f; ++o) {
          double acc = 0.0;
          for (int64_t kh = 0; kh < k; ++kh)
            for (int64_t kw = 0; kw < k; ++kw) {
              int64_t ih = y * stride - pad + kh, iw = xo * stride - pad + kw;
              if (ih < 0 || ih >= h || iw < 0 || iw >= w) continue;
              for (int64_t ch = 0; ch < c; ++ch)
                acc += double(x[((s * h + ih) * w + iw) * c + ch]) *
                       double(wt[((o * k + kh) * k + kw) * c + ch]);
            }
          out[((s * oh + y) * ow + xo) * f + o] = acc;
        }
  return out;
}

inline double NaiveGelu(double z) {
  return 0.5 * z * (1.0 + std::tanh(0.7978845608028654 * (z + 0.044715 * z * z * z)));
}

}  // namespace hpcai::kernels::testing
