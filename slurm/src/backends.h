// Backend constructors (internal; the choice is made in backend_registry.cc).
#pragma once

#include <memory>

#include "hpcai/slurm/backend.h"

namespace hpcai::slurm {

std::unique_ptr<Backend> MakeCliBackend();    // sbatch / squeue / scancel
std::unique_ptr<Backend> MakeLocalBackend();  // this machine, detached process groups
std::unique_ptr<Backend> MakeLibSlurmBackend();  // only defined when libslurm is linked

}  // namespace hpcai::slurm
