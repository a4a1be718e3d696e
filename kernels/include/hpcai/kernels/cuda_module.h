// The CUDA + NCCL backend of hpcai-train lives in its own shared module,
// build/lib/libhpcai_cuda.so (kernels/cuda + runtime/cuda), loaded on first
// use: a CPU run never maps cuBLAS, cuBLASLt and NCCL (~800 MB of libraries,
// ~160 MB of resident pages from their relocations at every start).
#pragma once

#include <cstddef>
#include <memory>

#include "hpcai/base/status.h"
#include "hpcai/kernels/backend.h"

namespace hpcai::kernels {

inline constexpr int kCudaModuleAbi = 1;
inline constexpr const char* kCudaModuleEntry = "hpcai_cuda_module_v1";

// What the module exports (one table; `abi`/`size` catch a module from
// another build).  The NCCL entry is typed in runtime/ (it takes an MPI_Comm
// and returns a runtime::Communicator), hence void* here.
struct CudaModuleTable {
  int abi = 0;
  size_t size = 0;
  Result<std::unique_ptr<Backend>> (*create_backend)(int device, bool allow_tf32) = nullptr;
  void* create_nccl_communicator = nullptr;
};
using CudaModuleEntryFn = const CudaModuleTable* (*)();

// Loads libhpcai_cuda.so once ($HPCAI_CUDA_LIB, else <exe dir>/../lib/, else
// beside the executable).  NotFound with the paths tried and a hint.
Result<const CudaModuleTable*> LoadCudaModule();

}  // namespace hpcai::kernels
