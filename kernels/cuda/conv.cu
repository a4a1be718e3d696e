// im2col / col2im / layout on the device: one thread per output element
// running elements.h's gather functions (bit-identical to the CPU kernels,
// tests/kernels/elements_test.cc); col2im gathers, so no atomics and a
// deterministic result.
#include "common.h"
#include "launch.h"

namespace hpcai::kernels::cuda::launch {
namespace {

struct Im2colOp {
  ConvGeometry g;
  const float* x;
  float* col;
  __device__ void operator()(int64_t i) const { col[i] = Im2colElement(g, x, i); }
};
struct Col2imOp {
  ConvGeometry g;
  const float* col;
  float* dx;
  __device__ void operator()(int64_t i) const { dx[i] = Col2imElement(g, col, i); }
};
struct NchwToNhwcOp {
  int64_t c, h, w;
  const float* x;
  float* y;
  __device__ void operator()(int64_t i) const { y[i] = NchwToNhwcElement(c, h, w, x, i); }
};

}  // namespace

void Im2colNhwc(cudaStream_t s, const ConvGeometry& g, int64_t n, const float* x, float* col) {
  ForEach(s, n * g.out_h() * g.out_w() * g.patch(), Im2colOp{g, x, col});
}

void Col2imNhwc(cudaStream_t s, const ConvGeometry& g, int64_t n, const float* col, float* dx) {
  ForEach(s, n * g.in_h * g.in_w * g.in_c, Col2imOp{g, col, dx});
}

void NchwToNhwc(cudaStream_t s, int64_t n, int64_t c, int64_t h, int64_t w, const float* x,
                float* y) {
  ForEach(s, n * c * h * w, NchwToNhwcOp{c, h, w, x, y});
}

}  // namespace hpcai::kernels::cuda::launch
