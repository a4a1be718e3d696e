// Shared index math: the per-element / per-row / per-column functions the
// CUDA kernels run (one thread each) and the CPU backend either runs too or is
// tested against bit for bit (tests/kernels/elements_test.cc).  Together with
// math.h this is everything a device kernel computes apart from GEMMs, so a
// CUDA kernel is a grid-stride loop around one of these functions, and the
// index arithmetic of every device kernel is exercised by the CPU tests.
//
// Shapes use the conventions of cpu.h (row-major, images NHWC).
#pragma once

#include <stdint.h>
#include <string.h>

#include "hpcai/kernels/math.h"

namespace hpcai::kernels {

// Convolution geometry (NHWC, square kernel, symmetric zero padding).
struct ConvGeometry {
  int64_t in_h = 0, in_w = 0, in_c = 0;
  int64_t kernel = 1, stride = 1, padding = 0;
  HPCAI_HD int64_t out_h() const { return (in_h + 2 * padding - kernel) / stride + 1; }
  HPCAI_HD int64_t out_w() const { return (in_w + 2 * padding - kernel) / stride + 1; }
  // Columns of the im2col matrix: one per (kh, kw, c).
  HPCAI_HD int64_t patch() const { return kernel * kernel * in_c; }
};

// Max pooling with window == stride, floor division (NHWC).
struct PoolGeometry {
  int64_t h = 0, w = 0, c = 0, window = 2;
  HPCAI_HD int64_t out_h() const { return h / window; }
  HPCAI_HD int64_t out_w() const { return w / window; }
};

// ---- bias + activation + dropout, one element ----------------------------------------
// Forward: pre = z + bias (already added by the caller), y = dropout(act(pre));
// `index` = (row_offset + i) * d + j, the mask index of element (i, j).
template <Activation A, bool kDrop>
HPCAI_HD inline float BiasActForwardElement(float pre, const DropoutParams& dp, uint64_t index) {
  float a = Act<A>::Forward(pre);
  if constexpr (kDrop) a = DropoutApply(dp, index, a);
  return a;
}
// Backward: dz from dy and the saved tensor (z when kFromZ or when the
// activation reads z, else y = act(z) before dropout).
template <Activation A, bool kDrop, bool kFromZ>
HPCAI_HD inline float BiasActBackwardElement(float saved, float dy, const DropoutParams& dp,
                                             uint64_t index) {
  float g = dy;
  if constexpr (kDrop) g = DropoutApply(dp, index, g);
  if constexpr (ActivationNeedsZ(A)) {
    return Act<A>::Backward(saved, g);  // saved is z
  } else if constexpr (kFromZ) {
    return Act<A>::Backward(Act<A>::Forward(saved), g);
  } else {
    return Act<A>::Backward(saved, g);  // saved is y
  }
}

// ---- im2col / col2im ------------------------------------------------------------
// Element `index` of col: (n * out_h * out_w, patch) read from x: (n, in_h, in_w, in_c).
HPCAI_HD inline float Im2colElement(const ConvGeometry& g, const float* x, int64_t index) {
  const int64_t patch = g.patch(), oh_n = g.out_h(), ow_n = g.out_w();
  const int64_t row = index / patch, col = index % patch;
  const int64_t s = row / (oh_n * ow_n), pix = row % (oh_n * ow_n);
  const int64_t oh = pix / ow_n, ow = pix % ow_n;
  const int64_t kh = col / (g.kernel * g.in_c), rem = col % (g.kernel * g.in_c);
  const int64_t kw = rem / g.in_c, c = rem % g.in_c;
  const int64_t ih = oh * g.stride - g.padding + kh, iw = ow * g.stride - g.padding + kw;
  if (ih < 0 || ih >= g.in_h || iw < 0 || iw >= g.in_w) return 0.0f;
  return x[((s * g.in_h + ih) * g.in_w + iw) * g.in_c + c];
}

// Element `index` of dx: (n, in_h, in_w, in_c) = sum of the col entries that
// read it (gather form: no atomics).  Contributions are added in increasing
// (oh, ow) order, the order of cpu::Col2imNhwc's scatter, so both give the
// same bits.
HPCAI_HD inline float Col2imElement(const ConvGeometry& g, const float* col, int64_t index) {
  const int64_t c = index % g.in_c;
  int64_t t = index / g.in_c;
  const int64_t iw = t % g.in_w;
  t /= g.in_w;
  const int64_t ih = t % g.in_h, s = t / g.in_h;
  const int64_t oh_n = g.out_h(), ow_n = g.out_w(), patch = g.patch();
  float sum = 0.0f;
  for (int64_t kh = g.kernel - 1; kh >= 0; --kh) {  // descending kh = ascending oh
    const int64_t ohs = ih + g.padding - kh;
    if (ohs < 0 || ohs % g.stride != 0) continue;
    const int64_t oh = ohs / g.stride;
    if (oh >= oh_n) continue;
    for (int64_t kw = g.kernel - 1; kw >= 0; --kw) {
      const int64_t ows = iw + g.padding - kw;
      if (ows < 0 || ows % g.stride != 0) continue;
      const int64_t ow = ows / g.stride;
      if (ow >= ow_n) continue;
      sum += col[((s * oh_n + oh) * ow_n + ow) * patch + (kh * g.kernel + kw) * g.in_c + c];
    }
  }
  return sum;
}

// ---- max pooling ------------------------------------------------------------------
// Output element `index` of y: (n, out_h, out_w, c) from x: (n, h, w, c); *argmax
// gets the chosen offset inside the sample's (h, w, c) tensor.  First maximum
// in row-major window order wins; NaN propagates (as cpu::MaxPoolForward).
HPCAI_HD inline float MaxPoolElement(const PoolGeometry& g, const float* x, int64_t index,
                                     int32_t* argmax) {
  const int64_t c = index % g.c;
  int64_t t = index / g.c;
  const int64_t ow = t % g.out_w();
  t /= g.out_w();
  const int64_t oh = t % g.out_h(), s = t / g.out_h();
  const float* xs = x + s * g.h * g.w * g.c;
  float best = 0.0f;
  int64_t best_off = -1;
  for (int64_t kh = 0; kh < g.window; ++kh) {
    for (int64_t kw = 0; kw < g.window; ++kw) {
      const int64_t off = ((oh * g.window + kh) * g.w + (ow * g.window + kw)) * g.c + c;
      const float v = xs[off];
      if (best_off < 0 || v > best || v != v) {
        best = v;
        best_off = off;
      }
    }
  }
  *argmax = static_cast<int32_t>(best_off);
  return best;
}

// Element `index` of dx: (n, h, w, c): dy of its window if it was that
// window's argmax, else 0 (gather form: windows do not overlap).
HPCAI_HD inline float MaxPoolBackwardElement(const PoolGeometry& g, const float* dy,
                                             const int32_t* argmax, int64_t index) {
  const int64_t c = index % g.c;
  int64_t t = index / g.c;
  const int64_t iw = t % g.w;
  t /= g.w;
  const int64_t ih = t % g.h, s = t / g.h;
  const int64_t oh = ih / g.window, ow = iw / g.window;
  if (oh >= g.out_h() || ow >= g.out_w()) return 0.0f;
  const int64_t o = ((s * g.out_h() + oh) * g.out_w() + ow) * g.c + c;
  return argmax[o] == static_cast<int32_t>((ih * g.w + iw) * g.c + c) ? dy[o] : 0.0f;
}

// ---- layout ----------------------------------------------------------------------
// Element `index` of y: (n, h, w, c) from x: (n, c, h, w).
HPCAI_HD inline float NchwToNhwcElement(int64_t c, int64_t h, int64_t w, const float* x,
                                        int64_t index) {
  const int64_t ch = index % c;
  const int64_t p = (index / c) % (h * w), s = index / (c * h * w);
  return x[(s * c + ch) * h * w + p];
}

// ---- softmax + cross-entropy, one row ----------------------------------------------
// x: (c) logits of one sample; returns its loss (NaN for a label outside
// [0, c)); writes dx: (c) = (softmax - onehot) * scale when dx != nullptr (dx
// may alias x); *hit = 1 if the first argmax equals the label, else 0.
HPCAI_HD inline double XentRow(int64_t c, const float* x, int32_t label, float scale, float* dx,
                               int* hit) {
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
  const bool valid = label >= 0 && label < c;
  *hit = (valid && arg == label) ? 1 : 0;
  double loss;
  if (valid) {
    loss = XentRowLoss(x[label], m, s);
  } else {
    const uint64_t nan_bits = 0x7FF8000000000000ull;  // quiet NaN without <limits> (device-safe)
    memcpy(&loss, &nan_bits, sizeof(loss));
  }
  if (dx != nullptr) {
    const float inv = 1.0f / s;
    for (int64_t j = 0; j < c; ++j) dx[j] = XentGrad(x[j], m, inv, j == label, scale);
  }
  return loss;
}

// ---- reductions ----------------------------------------------------------------------
// Rows per fp32 partial in bias gradients; partials are added in double.
constexpr int64_t kBiasBlockRows = 256;
// Column j of g (n rows, ld apart) summed: fp32 over blocks of kBiasBlockRows
// rows, blocks added in double (cpu::BiasGrad does the same additions in the
// same order, vectorised across columns).
// Returns the double total; callers store (float)total, or (float)(old + total)
// when accumulating.
HPCAI_HD inline double BiasGradColumn(int64_t n, int64_t ld, const float* g, int64_t j) {
  double total = 0.0;
  for (int64_t b = 0; b < n; b += kBiasBlockRows) {
    const int64_t e = b + kBiasBlockRows < n ? b + kBiasBlockRows : n;
    float block = 0.0f;
    for (int64_t i = b; i < e; ++i) block += g[i * ld + j];
    total += block;
  }
  return total;
}

// Elements per block of SumSquares; blocks are summed in double, in order.
constexpr int64_t kSumBlock = 256;
// sum of x[i]^2 over [b, e) (one block) with 8 fp32 lanes combined in order.
HPCAI_HD inline double SumSquaresBlock(const float* x, int64_t b, int64_t e) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = b;
  for (; i + 8 <= e; i += 8) {
    for (int l = 0; l < 8; ++l) lane[l] += x[i + l] * x[i + l];
  }
  for (; i < e; ++i) lane[0] += x[i] * x[i];
  double part = 0.0;
  for (int l = 0; l < 8; ++l) part += lane[l];
  return part;
}

}  // namespace hpcai::kernels
