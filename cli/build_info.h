// What this hpcai build can run (cli/ only).  The HPCAI_WITH_CUDA macro is
// read in exactly one place, build_info.cc.
#pragma once

#include <string>
#include <vector>

namespace hpcai::cli {

// True when this build has the CUDA + NCCL backend (-DHPCAI_WITH_CUDA=ON).
// Pass it as SpecLoadOptions::cuda_available.
bool BuildHasCuda();

// Compute backends of this build, in preference order: "cpu" always, "cuda" if built.
std::vector<std::string> BuildBackends();

}  // namespace hpcai::cli
