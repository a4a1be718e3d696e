// dlopen() of libhpcai_cuda.so (see cuda_module.h for why it is separate).
#include "hpcai/kernels/cuda_module.h"

#include <string>

#include "hpcai/base/module.h"

namespace hpcai::kernels {
namespace {

Result<const CudaModuleTable*> Load() {
  HPCAI_ASSIGN_OR_RETURN(
      void* sym, LoadModuleEntry("libhpcai_cuda.so", "HPCAI_CUDA_LIB", kCudaModuleEntry,
                                 "the CUDA backend needs libhpcai_cuda.so; install it next to hpcai-train "
                                 "(build/lib/ or lib/ beside bin/), or point HPCAI_CUDA_LIB at it; CPU runs "
                                 "(resources.gpus_per_node: 0) do not need it"));
  const CudaModuleTable* t = reinterpret_cast<CudaModuleEntryFn>(sym)();
  if (!t || t->abi != kCudaModuleAbi || t->size != sizeof(CudaModuleTable)) {
    return Status::Internal("libhpcai_cuda.so is from another hpcai build (table abi " +
                            std::to_string(t ? t->abi : 0) + ", expected " + std::to_string(kCudaModuleAbi) +
                            "); install libhpcai_cuda.so from the same build as hpcai-train");
  }
  return t;
}

}  // namespace

Result<const CudaModuleTable*> LoadCudaModule() {
  static const Result<const CudaModuleTable*> cached = Load();
  return cached;
}

}  // namespace hpcai::kernels
