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

// x's rows straight from the page cache: the shard file mapped read-only,
// and where each HDF5 chunk of x lies in it.  The reader's stream mode then
// copies a row once (page cache -> batch) where an H5Dread into a window
// buffer and the gather from it copy it twice.  Only for an x whose stored
// bytes are its values: no filter but HDF5's Fletcher-32 chunk checksum
// (which Populate verifies), native byte order, every chunk allocated,
// whole rows per chunk.
// A shard truncated while it is mapped (rewritten in place, e.g. by `cp`
// over it) would fault with SIGBUS on the next access: a process-wide SIGBUS
// handler maps a zero page over the vanished page of such a mapping, marks
// the mapping damaged and lets the copy finish; the reader then reports a
// Corrupt error instead of delivering that batch.  Faults outside these
// mappings go to the previous handler (or kill the process as before).
class MappedRows {
 public:
  // nullptr (no error) when x cannot be mapped (filtered, foreign byte order,
  // unallocated chunks, empty, a driver other than the default); Corrupt when
  // x's chunks lie past the end of the file.  Takes the HDF5 lock.
  static Result<std::unique_ptr<MappedRows>> Map(const Shard& s);
  ~MappedRows();
  MappedRows(const MappedRows&) = delete;
  MappedRows& operator=(const MappedRows&) = delete;

  const uint8_t* Row(int64_t r) const {
    return base_ + chunk_offset_[static_cast<size_t>(r / chunk_rows_)] + (r % chunk_rows_) * row_bytes_;
  }
  // The first time the chunks of rows [start, start + count) are asked for:
  // verifies their Fletcher-32 checksums (Corrupt naming the file and rows
  // on a mismatch, as an H5Dread would) and maps their pages into this
  // process, so the thread that copies the rows later takes no page faults.
  // A chunk is verified once per process, not on every epoch as HDF5 would:
  // its bytes come from the page cache, which hpcai never writes.  Pages stay mapped
  // (unmapping them after each window cost more than the copies themselves
  // in the benchmark); the kernel may still reclaim them, which costs a
  // fault on the next use.  One thread at a time.
  Status Populate(int64_t start, int64_t count);

  // Whether a page of this mapping vanished (the file shrank under it); then
  // Damaged() is the error to report.  Any thread.
  bool damaged() const;
  Status Damaged() const;
  // Faults taken over any mapping so far in this process (a cheap "did
  // anything happen" check before asking each mapping).
  static uint64_t Faults();

 private:
  MappedRows() = default;
  const uint8_t* base_ = nullptr;
  size_t length_ = 0;
  int64_t rows_ = 0, chunk_rows_ = 1, row_bytes_ = 0;
  bool fletcher32_ = false;            // chunks carry HDF5's checksum after their data
  std::string name_;                   // the file's name, for errors
  int slot_ = -1;                      // in the SIGBUS handler's table
  volatile uint8_t sink_ = 0;          // keeps Populate's reads
  std::vector<int64_t> chunk_offset_;  // file offset of each chunk of x
  std::vector<uint8_t> populated_;     // per chunk: Populate() has touched it
};

}  // namespace hpcai::io
