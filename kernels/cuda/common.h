// Private helpers of the CUDA backend: error checks that name the call,
// file:line, host and device, and the one kernel shape every elementwise op
// uses (a grid-stride loop calling a functor around an elements.h/math.h
// function).
#pragma once

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "hpcai/kernels/elements.h"
#include "hpcai/kernels/math.h"

namespace hpcai::kernels::cuda {

// Prints "hpcai: CUDA error: <call> failed at <file>:<line> on host H, device D: <what>" and
// aborts: ops have no Status channel and a failed device cannot finish the step.
[[noreturn]] void Fail(const char* call, const char* file, int line, const char* what);
// The device this thread's backend uses (for messages).
void SetCurrentDeviceForMessages(int device);

#define HPCAI_CUDA_CHECK(expr)                                                         \
  do {                                                                                 \
    cudaError_t hpcai_e_ = (expr);                                                     \
    if (hpcai_e_ != cudaSuccess) {                                                     \
      ::hpcai::kernels::cuda::Fail(#expr, __FILE__, __LINE__, cudaGetErrorString(hpcai_e_)); \
    }                                                                                  \
  } while (0)

#define HPCAI_CUBLAS_CHECK(expr)                                                        \
  do {                                                                                  \
    cublasStatus_t hpcai_s_ = (expr);                                                   \
    if (hpcai_s_ != CUBLAS_STATUS_SUCCESS) {                                            \
      ::hpcai::kernels::cuda::Fail(#expr, __FILE__, __LINE__, cublasGetStatusString(hpcai_s_)); \
    }                                                                                   \
  } while (0)

// Checks the launch itself (bad configuration); execution errors surface at
// the next synchronising call, which is checked too.
#define HPCAI_CUDA_LAUNCH_CHECK() HPCAI_CUDA_CHECK(cudaGetLastError())

constexpr int kThreads = 256;

inline unsigned Blocks(int64_t n) {
  int64_t b = (n + kThreads - 1) / kThreads;
  const int64_t cap = int64_t{1} << 20;  // grid-stride loops cover the rest
  return static_cast<unsigned>(b < 1 ? 1 : (b > cap ? cap : b));
}

template <typename F>
__global__ void ForEachKernel(int64_t n, F f) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(blockDim.x) * gridDim.x) {
    f(i);
  }
}

// Runs f(i) for i in [0, n) on `stream`.
template <typename F>
void ForEach(cudaStream_t stream, int64_t n, const F& f) {
  if (n <= 0) return;
  ForEachKernel<<<Blocks(n), kThreads, 0, stream>>>(n, f);
  HPCAI_CUDA_LAUNCH_CHECK();
}

}  // namespace hpcai::kernels::cuda
