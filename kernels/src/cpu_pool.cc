// Max pooling (window == stride), NHWC: the channel loop is innermost and
// contiguous, so the compare/select vectorises across channels.
#include <cstring>

#include "hpcai/kernels/cpu.h"

namespace hpcai::kernels::cpu {

void MaxPoolForward(const PoolGeometry& g, int64_t n, const float* x, float* y, int32_t* argmax) {
  const int64_t oh_n = g.out_h(), ow_n = g.out_w(), c = g.c, win = g.window;
  const int64_t in_sample = g.h * g.w * c, out_sample = oh_n * ow_n * c;
  for (int64_t s = 0; s < n; ++s) {
    const float* xs = x + s * in_sample;
    float* ys = y + s * out_sample;
    int32_t* as = argmax + s * out_sample;
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        float* __restrict__ yr = ys + (oh * ow_n + ow) * c;
        int32_t* __restrict__ ar = as + (oh * ow_n + ow) * c;
        bool first = true;
        for (int64_t kh = 0; kh < win; ++kh) {
          for (int64_t kw = 0; kw < win; ++kw) {
            const int64_t off = ((oh * win + kh) * g.w + (ow * win + kw)) * c;
            const float* __restrict__ xr = xs + off;
            if (first) {
              for (int64_t ch = 0; ch < c; ++ch) {
                yr[ch] = xr[ch];
                ar[ch] = static_cast<int32_t>(off + ch);
              }
              first = false;
              continue;
            }
            for (int64_t ch = 0; ch < c; ++ch) {
              const float v = xr[ch];
              // Strictly greater keeps the first maximum; v != v lets NaN through.
              const bool take = v > yr[ch] || v != v;
              yr[ch] = take ? v : yr[ch];
              ar[ch] = take ? static_cast<int32_t>(off + ch) : ar[ch];
            }
          }
        }
      }
    }
  }
}

void MaxPoolBackward(const PoolGeometry& g, int64_t n, const float* dy, const int32_t* argmax,
                     float* dx) {
  const int64_t in_sample = g.h * g.w * g.c, out_sample = g.out_h() * g.out_w() * g.c;
  std::memset(dx, 0, sizeof(float) * n * in_sample);
  for (int64_t s = 0; s < n; ++s) {
    float* dxs = dx + s * in_sample;
    const float* dys = dy + s * out_sample;
    const int32_t* as = argmax + s * out_sample;
    for (int64_t i = 0; i < out_sample; ++i) dxs[as[i]] += dys[i];
  }
}

}  // namespace hpcai::kernels::cpu
