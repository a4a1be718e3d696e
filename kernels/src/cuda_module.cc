// dlopen() of libhpcai_cuda.so (see cuda_module.h for why it is separate).
#include "hpcai/kernels/cuda_module.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <string>
#include <vector>

namespace hpcai::kernels {
namespace {

constexpr const char* kLibName = "libhpcai_cuda.so";

std::string ExeDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

Result<const CudaModuleTable*> Load() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("HPCAI_CUDA_LIB"); env && *env) {
    candidates.push_back(env);
  } else {
    const std::string dir = ExeDir();
    candidates.push_back(dir + "/../lib/" + kLibName);
    candidates.push_back(dir + "/" + kLibName);
  }
  std::string tried;
  for (const auto& path : candidates) {
    if (::access(path.c_str(), F_OK) != 0) {
      tried += "\n  " + path + ": not found";
      continue;
    }
    // RTLD_LOCAL: the module's own copies of the hpcai static libraries stay
    // private to it.  RTLD_NOW: a missing CUDA/NCCL library fails here.
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      tried += "\n  " + path + ": " + (e ? e : "dlopen failed");
      continue;
    }
    auto entry = reinterpret_cast<CudaModuleEntryFn>(::dlsym(h, kCudaModuleEntry));
    if (!entry) {
      return Status::Internal(path + " has no symbol " + kCudaModuleEntry +
                              "; it is not an hpcai CUDA module (reinstall hpcai)");
    }
    const CudaModuleTable* t = entry();
    if (!t || t->abi != kCudaModuleAbi || t->size != sizeof(CudaModuleTable)) {
      return Status::Internal(path + " is from another hpcai build (table abi " + std::to_string(t ? t->abi : 0) +
                              ", expected " + std::to_string(kCudaModuleAbi) +
                              "); install libhpcai_cuda.so from the same build as hpcai-train");
    }
    return t;
  }
  return Status::NotFound(std::string("the CUDA backend, ") + kLibName + ", could not be loaded; tried:" + tried +
                          "\nhint: install it next to hpcai-train (build/lib/ or lib/ beside bin/), or point "
                          "HPCAI_CUDA_LIB at it; CPU runs (resources.gpus_per_node: 0) do not need it");
}

}  // namespace

Result<const CudaModuleTable*> LoadCudaModule() {
  static const Result<const CudaModuleTable*> cached = Load();
  return cached;
}

}  // namespace hpcai::kernels
