// The entry point of libhpcai_cuda.so: the CUDA kernel backend
// (kernels/cuda) and the NCCL communicator (communicator_nccl.cc), handed to
// hpcai-train through one table (hpcai/kernels/cuda_module.h).  Everything
// else in this module is hidden (CXX_VISIBILITY_PRESET hidden).
#include <mpi.h>

#include "hpcai/kernels/cuda.h"
#include "hpcai/kernels/cuda_module.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {
Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(MPI_Comm base);
}  // namespace hpcai::runtime

extern "C" __attribute__((visibility("default"))) const hpcai::kernels::CudaModuleTable* hpcai_cuda_module_v1() {
  static const hpcai::kernels::CudaModuleTable table = [] {
    hpcai::kernels::CudaModuleTable t;
    t.abi = hpcai::kernels::kCudaModuleAbi;
    t.size = sizeof(hpcai::kernels::CudaModuleTable);
    t.create_backend = &hpcai::kernels::cuda::CreateCudaBackend;
    t.create_nccl_communicator = reinterpret_cast<void*>(&hpcai::runtime::CreateNcclCommunicator);
    return t;
  }();
  return &table;
}
