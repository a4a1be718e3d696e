// The backend registry: the ONE file of the kernels module that knows which
// backends this build has (HPCAI_WITH_CUDA is read here and nowhere else).
#include <string>
#include <vector>

#include "cpu_backend.h"
#include "hpcai/kernels/backend.h"
#if defined(HPCAI_WITH_CUDA)
#include "hpcai/kernels/cuda_module.h"
#endif

namespace hpcai::kernels {

std::vector<std::string> CompiledBackends() {
#if defined(HPCAI_WITH_CUDA)
  return {"cpu", "cuda"};
#else
  return {"cpu"};
#endif
}

Result<std::unique_ptr<Backend>> CreateBackend(const BackendOptions& options) {
  if (options.kind == "cpu") return NewCpuBackend();
  if (options.kind == "cuda") {
#if defined(HPCAI_WITH_CUDA)
    // In libhpcai_cuda.so, loaded now: CPU runs never map the CUDA libraries.
    HPCAI_ASSIGN_OR_RETURN(const CudaModuleTable* m, LoadCudaModule());
    return m->create_backend(options.device, options.allow_tf32);
#else
    return Status::FailedPrecondition(
        "backend 'cuda' is not compiled into this build of hpcai (CPU only); hint: rebuild with "
        "-DHPCAI_WITH_CUDA=ON on a machine with the CUDA toolkit and NCCL, or set "
        "resources.gpus_per_node: 0");
#endif
  }
  return Status::InvalidArgument("unknown kernel backend '" + options.kind +
                                 "' (expected 'cpu' or 'cuda')");
}

}  // namespace hpcai::kernels
