// CPU kernels: the fp32 reference every other backend is tested against.
//
// Conventions:
//  - Row-major tensors; shapes are given in the comment of each function as
//    `name: (dim0, dim1, ...)`.  Images are NHWC: (n, h, w, c).
//  - Every kernel is single-threaded and reentrant: callers parallelise by
//    giving each thread its own rows (see parallel.h and the model's batch
//    shards), so results never depend on how many threads exist.
//  - Per-element math comes from math.h (shared with the CUDA kernels).
//  - Preconditions (sizes >= 0, buffers large enough) are the caller's; these
//    functions do not allocate except where stated (small per-thread scratch).
#pragma once

#include <cstdint>

#include "hpcai/kernels/elements.h"
#include "hpcai/kernels/math.h"

namespace hpcai::kernels::cpu {

// ---- GEMM (OpenBLAS cblas_sgemm) ------------------------------------------------
// c: (m, n) = alpha * op(a) * op(b) + beta * c, where op(a): (m, k), op(b): (k, n).
// a is stored (m, k) with leading dimension lda, or (k, m) when trans_a;
// likewise b is (k, n) or (n, k) when trans_b.  beta == 0 ignores c's contents.
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
          const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
          int64_t ldc);

// Dense layer products with weights w: (out, in) (PyTorch's nn.Linear layout).
// y: (n, out) = x: (n, in) * w^T
void LinearForward(int64_t n, int64_t in, int64_t out, const float* x, const float* w, float* y);
// dw: (out, in) = dz^T * x, where dz: (n, out), x: (n, in); adds into dw when accumulate.
void LinearBackwardWeight(int64_t n, int64_t in, int64_t out, const float* dz, const float* x,
                          float* dw, bool accumulate);
// dx: (n, in) = dz: (n, out) * w: (out, in)
void LinearBackwardInput(int64_t n, int64_t in, int64_t out, const float* dz, const float* w,
                         float* dx);

// ---- bias + activation + dropout (fused, one pass) ----------------------------------
// z: (n, d) in/out, bias: (d), y: (n, d).
// z += bias (row-broadcast); y = dropout(act(z)).  y may be the same buffer as
// z (then z's pre-activation values are gone, fine when the backward reads y).
// dropout == nullptr (or scale 1) disables it; element (i, j) uses mask index
// (row_offset + i) * d + j, so a batch split into shards gets the same masks.
void BiasActivationForward(Activation act, int64_t n, int64_t d, const float* bias, float* z,
                           float* y, const DropoutParams* dropout, int64_t row_offset);

// Backward of BiasActivationForward.
// saved: (n, d) is z when saved_is_z, else y = act(z) (before dropout);
// dy: (n, d) gradient w.r.t. the output; dz: (n, d) (may be the same buffer as dy);
// dbias: (d) = column sums of dz (overwritten, or added to when accumulate_bias);
// nullptr skips the bias gradient.
// Activations whose backward reads y recompute y = act(z) when given z;
// gelu's backward reads z, so gelu requires saved_is_z.
void BiasActivationBackward(Activation act, int64_t n, int64_t d, const float* saved,
                            bool saved_is_z, const float* dy, const DropoutParams* dropout,
                            int64_t row_offset, float* dz, float* dbias, bool accumulate_bias);

// dbias: (d) = sum over the n rows of g, whose rows are ld apart (ld >= d, so a
// column slice of a wider matrix works); overwritten or added to.
// Sums in fp32 blocks of rows, blocks combined in double (accurate for large n).
void BiasGrad(int64_t n, int64_t d, int64_t ld, const float* g, float* dbias, bool accumulate);

// ---- softmax + cross-entropy (fused, numerically stable) ------------------------------
// logits: (n, c), labels: (n) with values in [0, c).
// Returns sum_i -log softmax(logits_i)[labels_i] (in double).
// If dlogits != nullptr: dlogits: (n, c) = (softmax - onehot(label)) * scale
// (scale = 1/global_batch for the data-parallel contract); it may be the same
// buffer as logits.  If correct != nullptr, adds the number of rows whose
// argmax (first maximum) equals the label.  A label outside [0, c) makes that
// row's loss NaN (so the numerical guard reports it) and its gradient the
// plain softmax.
double SoftmaxCrossEntropy(int64_t n, int64_t c, const float* logits, const int32_t* labels,
                           float scale, float* dlogits, int64_t* correct);

// ---- convolution helpers (NHWC im2col) -------------------------------------------------
using kernels::ConvGeometry;  // elements.h
// x: (n, in_h, in_w, in_c) -> col: (n * out_h * out_w, kernel * kernel * in_c),
// row = (sample, oh, ow), column = (kh, kw, c); out-of-image taps are 0.
void Im2colNhwc(const ConvGeometry& g, int64_t n, const float* x, float* col);
// Adjoint of Im2colNhwc: dx: (n, in_h, in_w, in_c) = sum of the col entries
// that read each input element (overwritten).
void Col2imNhwc(const ConvGeometry& g, int64_t n, const float* col, float* dx);

// ---- max pooling (window = stride, floor division, NHWC) -----------------------------
using kernels::PoolGeometry;  // elements.h
// x: (n, h, w, c) -> y: (n, out_h, out_w, c); argmax: (n, out_h, out_w, c) =
// offset of the chosen element inside its sample's (h, w, c) tensor.
// Ties pick the first element in row-major window order; NaN propagates.
void MaxPoolForward(const PoolGeometry& g, int64_t n, const float* x, float* y, int32_t* argmax);
// dx: (n, h, w, c) = dy scattered to argmax (zero elsewhere; overwritten).
void MaxPoolBackward(const PoolGeometry& g, int64_t n, const float* dy, const int32_t* argmax,
                     float* dx);

// ---- layout ------------------------------------------------------------------------------
// x: (n, c, h, w) -> y: (n, h, w, c).
void NchwToNhwc(int64_t n, int64_t c, int64_t h, int64_t w, const float* x, float* y);

// ---- reductions -------------------------------------------------------------------------
// sum_i x_i^2 in double; blocks of fixed size summed in order (deterministic).
double SumSquares(int64_t n, const float* x);
// Index of the first NaN/Inf in x: (n), or -1.
int64_t FirstNonFinite(int64_t n, const float* x);
// dst: (n) += src: (n)
void AddInto(int64_t n, const float* src, float* dst);

// ---- optimizer updates --------------------------------------------------------------------
// p, v, g: (n).  One fused pass of math.h's SgdUpdate.
void SgdStep(int64_t n, const SgdParams& h, const float* g, float* p, float* v);
// p, m, v, g: (n).  One fused pass of math.h's AdamUpdate.
void AdamStep(int64_t n, const AdamParams& h, const float* g, float* p, float* m, float* v);

}  // namespace hpcai::kernels::cpu
