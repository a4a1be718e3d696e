// Private: the CUDA kernels' launchers, one per op (one .cu per op family,
// beside the CPU's kernels/src/cpu_<op>.cc).  All asynchronous on `s`.
// Shapes and contracts: the functions of the same name in cpu.h.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

#include "hpcai/kernels/elements.h"
#include "hpcai/kernels/math.h"

namespace hpcai::kernels::cuda::launch {

// bias_act.cu
void BiasActivationForward(cudaStream_t s, Activation act, int64_t n, int64_t d,
                           const float* bias, float* z, float* y, const DropoutParams* dropout,
                           int64_t row_offset);
void BiasActivationBackward(cudaStream_t s, Activation act, int64_t n, int64_t d,
                            const float* saved, bool saved_is_z, const float* dy,
                            const DropoutParams* dropout, int64_t row_offset, float* dz);
void BiasGrad(cudaStream_t s, int64_t n, int64_t d, int64_t ld, const float* g, float* dbias,
              bool accumulate);

// xent.cu: per-row losses/hits, then their in-order sums into out[0] (loss)
// and hits_out[0].
void SoftmaxCrossEntropy(cudaStream_t s, int64_t n, int64_t c, const float* logits,
                         const int32_t* labels, float scale, float* dlogits, double* row_loss,
                         int* row_hit, double* loss_out, long long* hits_out);

// conv.cu
void Im2colNhwc(cudaStream_t s, const ConvGeometry& g, int64_t n, const float* x, float* col);
void Col2imNhwc(cudaStream_t s, const ConvGeometry& g, int64_t n, const float* col, float* dx);
void NchwToNhwc(cudaStream_t s, int64_t n, int64_t c, int64_t h, int64_t w, const float* x,
                float* y);

// pool.cu
void MaxPoolForward(cudaStream_t s, const PoolGeometry& g, int64_t n, const float* x, float* y,
                    int32_t* argmax);
void MaxPoolBackward(cudaStream_t s, const PoolGeometry& g, int64_t n, const float* dy,
                     const int32_t* argmax, float* dx);

// reduce.cu.  SumSquares: partial (ceil(n / kSumBlock) doubles) then out[0].
void SumSquares(cudaStream_t s, int64_t n, const float* x, double* partial, double* out);
// out[0] = index of the first non-finite element, or n.
void FirstNonFinite(cudaStream_t s, int64_t n, const float* x, unsigned long long* out);
void AddInto(cudaStream_t s, int64_t n, const float* src, float* dst);
// c(m, n) with leading dimension ldc *= beta (beta 0 writes zeros).
void ScaleMatrix(cudaStream_t s, int64_t m, int64_t n, float beta, float* c, int64_t ldc);

// optim.cu
void SgdStep(cudaStream_t s, int64_t n, const SgdParams& h, const float* g, float* p, float* v);
void AdamStep(cudaStream_t s, int64_t n, const AdamParams& h, const float* g, float* p, float* m,
              float* v);

}  // namespace hpcai::kernels::cuda::launch
