// im2col / col2im for NHWC convolutions.  In NHWC the taps of one kernel row
// (fixed kh, consecutive kw, all channels) are contiguous both in the image
// and in the im2col row, so each kernel row is one copy (plus zero padding).
#include <cstring>

#include "hpcai/kernels/cpu.h"

namespace hpcai::kernels::cpu {
namespace {

// For output column ow, the taps kw in [kw_begin, kw_end) read inside the image.
inline void ValidTaps(const ConvGeometry& g, int64_t ow, int64_t* kw_begin, int64_t* kw_end,
                      int64_t* iw0) {
  *iw0 = ow * g.stride - g.padding;
  int64_t b = *iw0 < 0 ? -*iw0 : 0;
  int64_t e = g.in_w - *iw0;
  if (e > g.kernel) e = g.kernel;
  if (e < b) e = b;
  *kw_begin = b;
  *kw_end = e;
}

}  // namespace

void Im2colNhwc(const ConvGeometry& g, int64_t n, const float* x, float* col) {
  const int64_t oh_n = g.out_h(), ow_n = g.out_w(), c = g.in_c, k = g.kernel;
  const int64_t patch = g.patch(), row_len = k * c;
  for (int64_t s = 0; s < n; ++s) {
    const float* xs = x + s * g.in_h * g.in_w * c;
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        float* dst = col + ((s * oh_n + oh) * ow_n + ow) * patch;
        int64_t kb, ke, iw0;
        ValidTaps(g, ow, &kb, &ke, &iw0);
        for (int64_t kh = 0; kh < k; ++kh) {
          float* d = dst + kh * row_len;
          const int64_t ih = oh * g.stride - g.padding + kh;
          if (ih < 0 || ih >= g.in_h || kb >= ke) {
            std::memset(d, 0, sizeof(float) * row_len);
            continue;
          }
          if (kb > 0) std::memset(d, 0, sizeof(float) * kb * c);
          std::memcpy(d + kb * c, xs + (ih * g.in_w + iw0 + kb) * c, sizeof(float) * (ke - kb) * c);
          if (ke < k) std::memset(d + ke * c, 0, sizeof(float) * (k - ke) * c);
        }
      }
    }
  }
}

void Col2imNhwc(const ConvGeometry& g, int64_t n, const float* col, float* dx) {
  const int64_t oh_n = g.out_h(), ow_n = g.out_w(), c = g.in_c, k = g.kernel;
  const int64_t patch = g.patch(), row_len = k * c;
  std::memset(dx, 0, sizeof(float) * n * g.in_h * g.in_w * c);
  for (int64_t s = 0; s < n; ++s) {
    float* xs = dx + s * g.in_h * g.in_w * c;
    for (int64_t oh = 0; oh < oh_n; ++oh) {
      for (int64_t ow = 0; ow < ow_n; ++ow) {
        const float* src = col + ((s * oh_n + oh) * ow_n + ow) * patch;
        int64_t kb, ke, iw0;
        ValidTaps(g, ow, &kb, &ke, &iw0);
        for (int64_t kh = 0; kh < k; ++kh) {
          const int64_t ih = oh * g.stride - g.padding + kh;
          if (ih < 0 || ih >= g.in_h || kb >= ke) continue;
          const float* __restrict__ srow = src + kh * row_len + kb * c;
          float* __restrict__ drow = xs + (ih * g.in_w + iw0 + kb) * c;
          const int64_t len = (ke - kb) * c;
          for (int64_t t = 0; t < len; ++t) drow[t] += srow[t];
        }
      }
    }
  }
}

void NchwToNhwc(int64_t n, int64_t c, int64_t h, int64_t w, const float* x, float* y) {
  const int64_t hw = h * w;
  for (int64_t s = 0; s < n; ++s) {
    const float* xs = x + s * c * hw;
    float* ys = y + s * c * hw;
    for (int64_t p = 0; p < hw; ++p) {
      for (int64_t ch = 0; ch < c; ++ch) ys[p * c + ch] = xs[ch * hw + p];
    }
  }
}

}  // namespace hpcai::kernels::cpu
