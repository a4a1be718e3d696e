// Finding and loading one of hpcai's own shared modules (build/lib/*.so,
// dlopen()ed on first need so a command or run that does not need them never
// maps their dependencies: libhpcai_cli_io.so for HDF5, libhpcai_cuda.so for
// CUDA/NCCL).
#pragma once

#include <string>

#include "hpcai/base/status.h"

namespace hpcai {

// Looks for `lib_name` at $`env_var` (when set, only there), else at
// <dir of the running executable>/../lib/, else beside it; dlopen()s the first
// that exists (RTLD_NOW | RTLD_LOCAL: the module's copies of hpcai's static
// libraries stay private, a missing dependency fails here) and returns the
// address of `entry`.  NotFound lists every path tried and why, then `hint`;
// Internal when the library lacks `entry`.
Result<void*> LoadModuleEntry(const std::string& lib_name, const char* env_var, const char* entry,
                              const std::string& hint);

}  // namespace hpcai
