// Private: constructor of the CPU backend, for registry.cc.
#pragma once

#include <memory>

#include "hpcai/kernels/backend.h"

namespace hpcai::kernels {
std::unique_ptr<Backend> NewCpuBackend();
}  // namespace hpcai::kernels
