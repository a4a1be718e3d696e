// The ONE place that knows which communicator backends this build has
// (HPCAI_WITH_NCCL is read here and nowhere else in runtime/).  Backends form
// an ordered list, each with Enabled(); the first enabled one is created, so
// MPI is the fallback whenever NCCL is absent or not wanted (horovod's
// ordered op list).
#include <mpi.h>

#include <functional>
#include <string>
#include <vector>

#include "comm_internal.h"
#include "hpcai/kernels/cuda_module.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {

#if defined(HPCAI_WITH_NCCL)
// CreateNcclCommunicator (communicator_nccl.cc) lives in libhpcai_cuda.so,
// loaded on first use.
Result<std::unique_ptr<Communicator>> CreateNcclThroughModule(MPI_Comm base) {
  HPCAI_ASSIGN_OR_RETURN(const kernels::CudaModuleTable* m, kernels::LoadCudaModule());
  using Fn = Result<std::unique_ptr<Communicator>> (*)(MPI_Comm);
  return reinterpret_cast<Fn>(m->create_nccl_communicator)(base);
}
#endif

namespace {

struct CommBackend {
  const char* name;
  std::function<bool(const CommOptions&)> enabled;
  std::function<Result<std::unique_ptr<Communicator>>(const CommOptions&)> create;
};

const std::vector<CommBackend>& Backends() {
  static const std::vector<CommBackend> kBackends = {
#if defined(HPCAI_WITH_NCCL)
      {"nccl", [](const CommOptions& o) { return o.gpu; },
       [](const CommOptions&) { return CreateNcclThroughModule(MPI_COMM_WORLD); }},
#endif
      // Host memory only (no CUDA-aware MPI assumed), hence not for GPU runs.
      {"mpi", [](const CommOptions& o) { return !o.gpu; },
       [](const CommOptions&) { return CreateMpiCommunicator(MPI_COMM_WORLD); }},
  };
  return kBackends;
}

}  // namespace

std::vector<std::string> CommBackendsBuilt() {
  std::vector<std::string> names;
  for (const CommBackend& b : Backends()) names.emplace_back(b.name);
  return names;
}

Result<std::unique_ptr<Communicator>> CreateCommunicator(const CommOptions& options) {
  for (const CommBackend& b : Backends()) {
    if (b.enabled(options)) return b.create(options);
  }
  std::string built;
  for (const std::string& n : CommBackendsBuilt()) built += (built.empty() ? "" : ", ") + n;
  return Status::FailedPrecondition(
      std::string("no communicator backend for a ") + (options.gpu ? "GPU" : "CPU") +
      " run in this build (built: " + built + ")" +
      (options.gpu ? "; hint: rebuild with -DHPCAI_WITH_CUDA=ON on a machine with CUDA and NCCL, "
                     "or set resources.gpus_per_node: 0"
                   : ""));
}

}  // namespace hpcai::runtime
