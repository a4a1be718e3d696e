// GEMM through OpenBLAS.  The layers never transpose explicitly: every
// product is expressed with cblas transposition flags on the stored layout.
#include <cblas.h>

#include "hpcai/kernels/cpu.h"

namespace hpcai::kernels::cpu {

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    // Empty sum: c = beta * c (cblas would too, but some builds reject k == 0).
    for (int64_t i = 0; i < m; ++i) {
      float* row = c + i * ldc;
      for (int64_t j = 0; j < n; ++j) row[j] = beta == 0.0f ? 0.0f : beta * row[j];
    }
    return;
  }
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m),
              static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c,
              static_cast<blasint>(ldc));
}

void LinearForward(int64_t n, int64_t in, int64_t out, const float* x, const float* w, float* y) {
  // y(n,out) = x(n,in) * w(out,in)^T
  Gemm(false, true, n, out, in, 1.0f, x, in, w, in, 0.0f, y, out);
}

void LinearBackwardWeight(int64_t n, int64_t in, int64_t out, const float* dz, const float* x,
                          float* dw, bool accumulate) {
  // dw(out,in) = dz(n,out)^T * x(n,in)
  Gemm(true, false, out, in, n, 1.0f, dz, out, x, in, accumulate ? 1.0f : 0.0f, dw, in);
}

void LinearBackwardInput(int64_t n, int64_t in, int64_t out, const float* dz, const float* w,
                         float* dx) {
  // dx(n,in) = dz(n,out) * w(out,in)
  Gemm(false, false, n, in, out, 1.0f, dz, out, w, in, 0.0f, dx, in);
}

}  // namespace hpcai::kernels::cpu
