// Backend constructors, used only by comm_registry.cc (the one place that
// decides which backends exist) and by tests of a specific backend.
#pragma once

#include <mpi.h>

#include <memory>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {

// MPI communicator over a duplicate of `base` (errors returned, not fatal).
// Collective over `base`.
Result<std::unique_ptr<Communicator>> CreateMpiCommunicator(MPI_Comm base);

// GradientSync over one shared-memory segment (grad_sync_shm.cc); every rank
// of `comm` must run on this node.  Collective.  Unavailable (the same on every
// rank) when the segment cannot be set up: the caller falls back to MPI.
Result<std::unique_ptr<GradientSync>> CreateShmGradientSync(MPI_Comm comm, std::vector<GradTensor> tensors,
                                                            const std::string& where);

// "MPI_Bcast failed (host n1, rank 1 of 2): MPI_ERR_ROOT: invalid root".
Status MpiError(int rc, const char* call, const std::string& where);

// SLURMD_NODENAME when set (two slurmd on one host have distinct names), else
// gethostname().
std::string NodeName();

}  // namespace hpcai::runtime
