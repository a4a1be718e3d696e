// Per-element math shared by every backend (one op, one place).
//
// Each function here is the ONLY definition of its computation: the CPU
// kernels (kernels/src/cpu_*.cc) call them in their loops and the CUDA kernels
// (kernels/cuda/*.cu) call them from device code, so the CPU tests of
// tests/kernels/ exercise exactly the code the GPU runs.  Everything is
// inline, header-only, free of std:: calls that have no device version
// (we use the C functions expf/tanhf/logf/sqrtf, which CUDA provides for the
// device too), and free of globals.
#pragma once

#include <math.h>  // NOLINT(modernize-deprecated-headers): expf/tanhf/... exist on host and device
#include <stdint.h>
#include <string.h>

#if defined(__CUDACC__)
#define HPCAI_HD __host__ __device__
#else
#define HPCAI_HD
#endif

namespace hpcai::kernels {

// ---- activations ----------------------------------------------------------------
// Forward y = f(z).  Backward returns dz given dy and z (pre-activation) or y
// (post-activation): each activation documents which of the two it reads, so
// a layer can keep only the tensor the backward needs.
enum class Activation : int { kIdentity = 0, kRelu = 1, kGelu = 2, kTanh = 3 };

// Whether Backward needs the pre-activation z (true) or can use y alone.
HPCAI_HD constexpr bool ActivationNeedsZ(Activation a) { return a == Activation::kGelu; }

HPCAI_HD inline float ReluForward(float z) { return z > 0.0f ? z : 0.0f; }
// Reads y (y > 0 exactly where z > 0); the subgradient at 0 is 0, as in PyTorch.
HPCAI_HD inline float ReluBackward(float y, float dy) { return y > 0.0f ? dy : 0.0f; }

HPCAI_HD inline float TanhForward(float z) { return tanhf(z); }
// Reads y: d tanh(z)/dz = 1 - tanh(z)^2.
HPCAI_HD inline float TanhBackward(float y, float dy) { return dy * (1.0f - y * y); }

// GELU, tanh approximation (PyTorch's approximate="tanh"):
//   g(z) = 0.5 z (1 + tanh(k (z + c z^3))),  k = sqrt(2/pi), c = 0.044715.
constexpr float kGeluK = 0.7978845608028654f;
constexpr float kGeluC = 0.044715f;
HPCAI_HD inline float GeluForward(float z) {
  float t = tanhf(kGeluK * (z + kGeluC * z * z * z));
  return 0.5f * z * (1.0f + t);
}
// Reads z: g'(z) = 0.5 (1 + t) + 0.5 z (1 - t^2) k (1 + 3 c z^2).
HPCAI_HD inline float GeluBackward(float z, float dy) {
  float z2 = z * z;
  float t = tanhf(kGeluK * (z + kGeluC * z2 * z));
  float dg = 0.5f * (1.0f + t) + 0.5f * z * (1.0f - t * t) * kGeluK * (1.0f + 3.0f * kGeluC * z2);
  return dy * dg;
}

// Compile-time dispatch so inner loops carry no per-element switch.
template <Activation A>
struct Act;
template <>
struct Act<Activation::kIdentity> {
  HPCAI_HD static float Forward(float z) { return z; }
  HPCAI_HD static float Backward(float /*z_or_y*/, float dy) { return dy; }
};
template <>
struct Act<Activation::kRelu> {
  HPCAI_HD static float Forward(float z) { return ReluForward(z); }
  HPCAI_HD static float Backward(float y, float dy) { return ReluBackward(y, dy); }
};
template <>
struct Act<Activation::kTanh> {
  HPCAI_HD static float Forward(float z) { return TanhForward(z); }
  HPCAI_HD static float Backward(float y, float dy) { return TanhBackward(y, dy); }
};
template <>
struct Act<Activation::kGelu> {
  HPCAI_HD static float Forward(float z) { return GeluForward(z); }
  HPCAI_HD static float Backward(float z, float dy) { return GeluBackward(z, dy); }
};

// ---- dropout ----------------------------------------------------------------------
// Counter-based masks: element `index` of a tensor is kept iff
// DropoutBits(seed, index) < threshold.  No mask is stored: backward
// recomputes it; the mask does not depend on thread count or backend (the
// CUDA kernel computes the same bits), only on (seed, index).
HPCAI_HD inline uint32_t DropoutBits(uint64_t seed, uint64_t index) {
  // splitmix64 finaliser of (seed, index); 24 high bits.
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  z ^= z >> 31;
  return static_cast<uint32_t>(z >> 40);
}
// Threshold for keep probability `keep` in [0, 1] (compare with DropoutBits).
HPCAI_HD inline uint32_t DropoutThreshold(float keep) {
  if (keep >= 1.0f) return 1u << 24;
  if (keep <= 0.0f) return 0u;
  return static_cast<uint32_t>(keep * 16777216.0f);
}
struct DropoutParams {
  uint64_t seed = 0;
  uint32_t threshold = 1u << 24;  // DropoutThreshold(1 - p)
  float scale = 1.0f;             // 1 / (1 - p): inverted dropout, identity at inference
};
// Forward and backward are the same map: x * mask * scale.
HPCAI_HD inline float DropoutApply(const DropoutParams& d, uint64_t index, float x) {
  return DropoutBits(d.seed, index) < d.threshold ? x * d.scale : 0.0f;
}

// ---- softmax + cross-entropy (numerically stable) -------------------------------
// For one row of logits x (C classes) with m = max_j x_j and s = sum_j exp(x_j - m):
//   loss = log(s) - (x_label - m)                  (never overflows: x_j - m <= 0)
//   dx_j = (exp(x_j - m) / s - [j == label]) * scale
// The loss is formed in double: logit differences near the fp32 range
// (e.g. 3e38 - (-3e38)) would overflow in float.  One double op per row.
HPCAI_HD inline double XentRowLoss(float logit_label, float row_max, float sum_exp) {
  return static_cast<double>(logf(sum_exp)) -
         (static_cast<double>(logit_label) - static_cast<double>(row_max));
}
HPCAI_HD inline float XentGrad(float logit, float row_max, float inv_sum_exp, bool is_label,
                               float scale) {
  float p = expf(logit - row_max) * inv_sum_exp;
  return (p - (is_label ? 1.0f : 0.0f)) * scale;
}

// ---- optimizer updates (one element) ----------------------------------------------
// The host computes the per-step scalars once; these do one element.
// grad_scale folds global-norm clipping into the update (no extra pass).

// SGD with momentum (PyTorch convention, dampening 0):
//   g' = g * grad_scale + weight_decay * p      (L2; weight_decay = 0 for no-decay params)
//   v  = momentum * v + g'
//   p -= lr * (nesterov ? g' + momentum * v : v)
// momentum == 0 gives plain SGD (v then just holds g').
struct SgdParams {
  float lr = 0.0f, momentum = 0.0f, weight_decay = 0.0f, grad_scale = 1.0f;
  bool nesterov = false;
};
HPCAI_HD inline void SgdUpdate(const SgdParams& h, float g, float* p, float* v) {
  float gg = g * h.grad_scale + h.weight_decay * *p;
  float vv = h.momentum * *v + gg;
  *v = vv;
  *p -= h.lr * (h.nesterov ? gg + h.momentum * vv : vv);
}

// Adam / AdamW (PyTorch formula).  With t = step number (1-based):
//   g' = g * grad_scale + l2 * p                 (adam weight decay; 0 for adamw)
//   p *= 1 - lr * decoupled                      (adamw weight decay; 0 for adam)
//   m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt_bc2 + eps),  bc1 = 1-b1^t, sqrt_bc2 = sqrt(1-b2^t)
struct AdamParams {
  float lr = 0.0f, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f;
  float l2 = 0.0f, decoupled = 0.0f, grad_scale = 1.0f;
  float step_size = 0.0f;    // lr / bc1
  float inv_sqrt_bc2 = 1.0f; // 1 / sqrt(1 - b2^t)
};
HPCAI_HD inline void AdamUpdate(const AdamParams& h, float g, float* p, float* m, float* v) {
  float pp = *p;
  float gg = g * h.grad_scale + h.l2 * pp;
  pp -= h.lr * h.decoupled * pp;
  float mm = h.beta1 * *m + (1.0f - h.beta1) * gg;
  float vv = h.beta2 * *v + (1.0f - h.beta2) * gg * gg;
  *m = mm;
  *v = vv;
  *p = pp - h.step_size * mm / (sqrtf(vv) * h.inv_sqrt_bc2 + h.eps);
}

// Global-norm clipping factor (PyTorch clip_grad_norm_): 1 when norm <= max_norm.
HPCAI_HD inline float ClipScale(double norm, double max_norm) {
  double c = max_norm / (norm + 1e-6);
  return c < 1.0 ? static_cast<float>(c) : 1.0f;
}

// True for NaN and +-Inf without relying on std::isfinite (fast-math safe).
HPCAI_HD inline bool IsFiniteBits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof(u));  // well-defined type pun on host and device
  return (u & 0x7F800000u) != 0x7F800000u;
}

}  // namespace hpcai::kernels
