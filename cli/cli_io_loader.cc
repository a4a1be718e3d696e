// dlopen() of libhpcai_cli_io.so (see cli_io.h for why it is separate).
#include <dlfcn.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <optional>

#include "cli_io.h"

namespace hpcai::cli {
namespace {

constexpr const char* kLibName = "libhpcai_cli_io.so";

std::string ExeDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  auto slash = p.rfind('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

Result<const CliIoTable*> Load() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("HPCAI_CLI_IO_LIB"); env && *env) {
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
    // RTLD_LOCAL: the library's own copies of the hpcai static libraries
    // stay private to it.  RTLD_NOW: a broken install fails here, not mid-command.
    void* h = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      tried += "\n  " + path + ": " + (e ? e : "dlopen failed");
      continue;
    }
    auto entry = reinterpret_cast<CliIoEntryFn>(::dlsym(h, kCliIoEntry));
    if (!entry) {
      return Status::Internal(path + " has no symbol " + kCliIoEntry +
                              "; it is not an hpcai CLI I/O library (reinstall hpcai)");
    }
    const CliIoTable* t = entry();
    if (!t || t->abi != kCliIoAbi || t->size != sizeof(CliIoTable)) {
      return Status::Internal(path + " is from another hpcai build (table abi " +
                              std::to_string(t ? t->abi : 0) + ", expected " + std::to_string(kCliIoAbi) +
                              "); install libhpcai_cli_io.so from the same build as this hpcai");
    }
    return t;
  }
  return Status::NotFound(std::string("this command needs the HDF5 part of hpcai, ") + kLibName +
                          ", which could not be loaded; tried:" + tried +
                          "\nhint: install it next to the hpcai binary (build/lib/ or lib/ beside bin/), "
                          "or point HPCAI_CLI_IO_LIB at it");
}

}  // namespace

Result<const CliIoTable*> LoadCliIo() {
  static const Result<const CliIoTable*> cached = Load();
  return cached;
}

}  // namespace hpcai::cli

// The io/checkpoint.h functions the CLI uses, defined in the executable (which
// does not link hpcai_io) as forwarders into libhpcai_cli_io.so.  A load
// failure comes back as the call's Status.
namespace hpcai::io {

Result<Checkpoint> ReadCheckpoint(const std::string& path, const ReadCheckpointOptions& options) {
  HPCAI_ASSIGN_OR_RETURN(const cli::CliIoTable* t, cli::LoadCliIo());
  return t->read_checkpoint(path, options);
}

Result<FoundCheckpoint> FindLatestValid(const std::string& dir, const ReadCheckpointOptions& options) {
  HPCAI_ASSIGN_OR_RETURN(const cli::CliIoTable* t, cli::LoadCliIo());
  return t->find_latest_valid(dir, options);
}

Result<std::vector<CheckpointEntry>> ListCheckpoints(const std::string& dir) {
  HPCAI_ASSIGN_OR_RETURN(const cli::CliIoTable* t, cli::LoadCliIo());
  return t->list_checkpoints(dir);
}

}  // namespace hpcai::io
