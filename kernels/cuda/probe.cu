// Compile/link probe for the CUDA backend: proves nvcc builds our device code
// for the configured architectures.  Replaced by the real kernels (issue 8).
#include <cuda_runtime.h>

namespace hpcai::cuda {

__global__ void ScaleKernel(float* x, float a, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] *= a;
}

// Returns the number of visible CUDA devices, or -1 when the driver/runtime
// reports an error (e.g. no GPU on this machine).
int DeviceCount() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) return -1;
  return n;
}

}  // namespace hpcai::cuda
