// The sharded HDF5 dataset reader used by hpcai-train (format: docs/data-format.md).
//
// Sample order: for epoch e the global order is a permutation that depends on
// (seed, e) only; global batch b holds order positions [b*B, (b+1)*B).  Rank r
// of R takes the contiguous slice [r*n/R, (r+1)*n/R) of each global batch of
// n samples (n = B except possibly the last).  So the sequence of global
// batches is identical for any number of ranks.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::io {

struct ShardInfo {
  std::string file;       // file name inside the dataset directory
  int64_t num_samples = 0;
  std::string sha256;     // checksum of the file bytes (manifest)
};

// What a dataset directory holds, from its manifest.json (validated against the shards).
struct DatasetInfo {
  std::string dir;
  int64_t num_samples = 0;
  std::vector<int64_t> sample_shape;  // e.g. {1, 28, 28} or {784}
  std::string dtype = "float32";      // on-disk dtype of x: float32 | uint8
  float scale = 1.0f, offset = 0.0f;  // x_float = x_stored * scale + offset (uint8)
  int num_classes = 0;
  int64_t chunk_samples = 0;
  std::vector<ShardInfo> shards;
  int64_t feature_dim() const;        // product of sample_shape
};

// Reads and validates manifest.json and the shard headers (not the data).
// NotFound / Corrupt with the file name and the problem.
Result<DatasetInfo> ReadDatasetInfo(const std::string& dir, const std::string& x_name = "x",
                                    const std::string& y_name = "y");

struct ReaderOptions {
  std::string x_name = "x", y_name = "y";
  int64_t global_batch = 256;
  int rank = 0, world_size = 1;
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;
  int prefetch = 2;                  // batches read ahead by a background thread (0 = synchronous)
  int64_t memory_budget_mb = 1024;   // above this the reader streams instead of caching all of x
};

// One rank's part of one global batch, x already converted to float32.
struct Batch {
  int64_t epoch = 0;
  int64_t step_in_epoch = 0;       // index of this global batch within the epoch
  int64_t global_size = 0;         // samples in the whole global batch (all ranks)
  int64_t local_offset = 0;        // this rank's first position inside the global batch
  int64_t local_size = 0;          // samples on this rank (may be 0 for tiny last batches)
  std::vector<float> x;            // (local_size, feature_dim), row-major
  std::vector<int32_t> y;          // (local_size)
};

class ShardReader {
 public:
  // Opens the dataset and validates it.  Does not start reading until Seek().
  static Result<std::unique_ptr<ShardReader>> Open(const std::string& dir, const ReaderOptions& options);
  virtual ~ShardReader() = default;

  virtual const DatasetInfo& info() const = 0;
  // Number of global batches per epoch (depends on drop_last).
  virtual int64_t steps_per_epoch() const = 0;
  // Positions the reader at global batch `step` of `epoch` (resume = the data
  // cursor) and starts prefetching from there.
  virtual void Seek(int64_t epoch, int64_t step) = 0;
  // Fills *batch with the next batch of the current epoch.  Returns false
  // (and leaves *batch untouched) when the epoch has no more batches.
  // Errors (I/O, corrupt chunk) are returned as Status, never thrown.
  // Reuses batch's buffers.  Not thread-safe: one consumer.
  virtual Result<bool> Next(Batch* batch) = 0;
  // Seconds the consumer spent blocked in Next() waiting for data since the
  // last call (data-stall metric); resets the counter.
  virtual double TakeStallSeconds() = 0;
};

}  // namespace hpcai::io
