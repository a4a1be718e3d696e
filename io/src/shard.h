// Private: one open shard file (format: docs/data-format.md) and bulk row reads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "h5util.h"
#include "hpcai/base/status.h"

namespace hpcai::io {

struct Shard {
  std::string path;   // full path, for messages
  h5::Id file, x, y;
  int64_t num_samples = 0;
  std::vector<int64_t> sample_shape;
  std::string dtype;          // "float32" | "uint8"
  double scale = 1, offset = 0;
  bool has_scale = false, has_offset = false;
  int64_t chunk_samples = 0;  // rows per HDF5 chunk of x (0: contiguous)
  int64_t row_bytes = 0;      // stored bytes of one sample of x
};

// Opens `path` (with `fapl`: H5P_DEFAULT, or an MPI-IO access list for
// collective reads) and checks that x and y exist with consistent shapes and
// supported types (y_name "": x only).  Errors name the file, the dataset and the problem.
Result<std::unique_ptr<Shard>> OpenShard(const std::string& path, const std::string& x_name,
                                         const std::string& y_name, hid_t fapl = H5P_DEFAULT);

// Reads rows [start, start+count) of x in its stored dtype into x_out
// (count * row_bytes bytes; skipped if null) and, if y_out is non-null, of y as int32.
// One H5Dread per dataset: a hyperslab selection, never per-sample calls.
// count may be 0 (an empty selection, still valid in a collective read).
// *x_collective / *y_collective (optional) receive whether HDF5 really did a
// collective transfer (H5Pget_mpio_actual_io_mode) when dxpl asks for one.
Status ReadRows(const Shard& s, int64_t start, int64_t count, void* x_out, int32_t* y_out,
                hid_t dxpl = H5P_DEFAULT, bool* x_collective = nullptr);

}  // namespace hpcai::io
