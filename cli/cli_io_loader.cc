// dlopen() of libhpcai_cli_io.so (see cli_io.h for why it is separate).

#include <optional>

#include "cli_io.h"
#include "hpcai/base/module.h"

namespace hpcai::cli {
namespace {

Result<const CliIoTable*> Load() {
  HPCAI_ASSIGN_OR_RETURN(
      void* sym, LoadModuleEntry("libhpcai_cli_io.so", "HPCAI_CLI_IO_LIB", kCliIoEntry,
                                 "this command needs the HDF5 part of hpcai; install libhpcai_cli_io.so next to "
                                 "the hpcai binary (build/lib/ or lib/ beside bin/), or point HPCAI_CLI_IO_LIB at it"));
  const CliIoTable* t = reinterpret_cast<CliIoEntryFn>(sym)();
  if (!t || t->abi != kCliIoAbi || t->size != sizeof(CliIoTable)) {
    return Status::Internal("libhpcai_cli_io.so is from another hpcai build (table abi " +
                            std::to_string(t ? t->abi : 0) + ", expected " + std::to_string(kCliIoAbi) +
                            "); install libhpcai_cli_io.so from the same build as this hpcai");
  }
  return t;
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
