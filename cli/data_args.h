// Argument structs of `hpcai data` subcommands: filled by CLI11 in
// cmd_data.cc (inside the `hpcai` executable) and consumed by the Run*
// functions in io_module/data_run.cc (inside libhpcai_cli_io.so, which links
// HDF5/MPI).  Header-only io option structs; nothing here needs HDF5 to link.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hpcai/io/convert.h"

namespace hpcai::cli {

struct ConvertArgs {
  io::ConvertOptions opt;
  std::vector<std::string> split;
  bool quiet = false, no_checksums = false;
};

struct SynthArgs {
  io::SynthOptions opt;
  int64_t features = 0;
  std::string shape;
  bool quiet = false;
};

struct InspectArgs {
  std::string dir;
  bool verify = false, json = false;
  std::string x_name = "x", y_name = "y";
};

struct BenchArgs {
  std::string dir;
  std::string mode = "stream";
  int64_t batch = 256;
  int prefetch = 2;
  int gather_threads = 1;
  int repeats = 5;
  int64_t window = 0;
  int64_t budget_mb = 64;
  double compute_ms = 0;
  bool no_map = false;
  bool json = false;
};

}  // namespace hpcai::cli
