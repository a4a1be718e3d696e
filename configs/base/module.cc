#include "hpcai/base/module.h"

#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <vector>

namespace hpcai {
namespace {

std::string ExeDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

}  // namespace

Result<void*> LoadModuleEntry(const std::string& lib_name, const char* env_var, const char* entry,
                              const std::string& hint) {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv(env_var); env && *env) {
    candidates.push_back(env);
  } else {
    const std::string dir = ExeDir();
    candidates.push_back(dir + "/../lib/" + lib_name);
    candidates.push_back(dir + "/" + lib_name);
  }
  std::string tried;
  for (const auto& path : candidates) {
    if (::access(path.c_str(), F_OK) != 0) {
      tried += "\n  " + path + ": not found";
      continue;
    }
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      tried += "\n  " + path + ": " + (e ? e : "dlopen failed");
      continue;
    }
    void* sym = ::dlsym(h, entry);
    if (!sym) {
      return Status::Internal(path + " has no symbol " + entry + "; it is not the hpcai module " + lib_name +
                              " (reinstall hpcai)");
    }
    return sym;
  }
  return Status::NotFound(lib_name + " could not be loaded; tried:" + tried + "\nhint: " + hint);
}

}  // namespace hpcai
