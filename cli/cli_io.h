// The HDF5/MPI-using half of the CLI, loaded on demand.
//
// Why: linking parallel HDF5 (and through it Open MPI, hwloc, libevent,
// libcurl, gnutls, ...) into `hpcai` made every start load and relocate ~49
// shared libraries (about 14 ms), even for `hpcai status` or `hpcai submit`
// which never touch HDF5.  The commands that do need it (`hpcai data ...`, the
// data check of validate/submit when data.train is reachable here) are built
// into libhpcai_cli_io.so (cli/io_module/), and the executable dlopen()s it the
// first time one of them runs.
//
// ABI: one extern "C" entry point, hpcai_cli_io_table(), returns a table of
// function pointers.  The library and the executable are always built together
// from the same tree (same compiler, same headers), so the pointers may carry
// C++ types; `abi` and `size` guard against a stale library from another build.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common.h"
#include "hpcai/base/status.h"
#include "hpcai/io/checkpoint.h"

namespace hpcai::cli {

struct ConvertArgs;
struct SynthArgs;
struct InspectArgs;
struct BenchArgs;

// What the spec data check needs from a dataset directory (a subset of
// io::DatasetInfo, so this header does not pull in HDF5/MPI headers).
struct DataShapeInfo {
  int64_t num_samples = 0;
  std::vector<int64_t> sample_shape;
  std::string dtype;
  int num_classes = 0;
};

// Bump when the table's layout or any signature changes.
inline constexpr uint32_t kCliIoAbi = 1;

struct CliIoTable {
  uint32_t abi;   // kCliIoAbi of the library's build
  uint32_t size;  // sizeof(CliIoTable) of the library's build
  // io::ReadDatasetInfo(dir, x, y): manifest + shard headers validated.
  Result<DataShapeInfo> (*read_dataset_info)(const std::string& dir, const std::string& x, const std::string& y);
  // `hpcai data convert|synth|inspect|bench`: return the process exit code
  // (errors already reported on stderr).
  int (*data_convert)(ConvertArgs& args);
  int (*data_synth)(SynthArgs& args);
  int (*data_inspect)(const InspectArgs& args);
  int (*data_bench)(const BenchArgs& args);
  // io/checkpoint.h, for `hpcai ckpt` and `hpcai resume`.  The executable
  // defines io::ReadCheckpoint / FindLatestValid / ListCheckpoints itself
  // (cli_io_loader.cc) as forwarders to these, so those commands call the
  // io:: API unchanged.
  Result<io::Checkpoint> (*read_checkpoint)(const std::string& path, const io::ReadCheckpointOptions& options);
  Result<io::FoundCheckpoint> (*find_latest_valid)(const std::string& dir, const io::ReadCheckpointOptions& options);
  Result<std::vector<io::CheckpointEntry>> (*list_checkpoints)(const std::string& dir);
};

// Name of the entry point exported by the library.
inline constexpr const char* kCliIoEntry = "hpcai_cli_io_table";
using CliIoEntryFn = const CliIoTable* (*)();

// Loads libhpcai_cli_io.so once per process and returns its table.  Looks
// in $HPCAI_CLI_IO_LIB (a file path) when set, else <exe dir>/../lib/ and
// <exe dir>/ (exe dir from /proc/self/exe).  On failure returns NotFound (or
// Internal for a library from another build) naming every path tried and
// dlerror()'s message; the result is cached, so a failure is reported the
// same way on every call.
Result<const CliIoTable*> LoadCliIo();

// Runs fn(table) and returns its exit code, or reports the load error and
// returns its exit code.  For subcommand callbacks: Exit(WithCliIo(...)).
template <typename Fn>
int WithCliIo(Fn&& fn) {
  auto t = LoadCliIo();
  if (!t.ok()) return ReportError(t.status());
  return fn(**t);
}

}  // namespace hpcai::cli
