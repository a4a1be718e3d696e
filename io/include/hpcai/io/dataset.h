// Writing, inspecting and verifying hpcai datasets (format: docs/data-format.md).
//
// A dataset is a directory: shard-00000.h5, shard-00001.h5, ... and
// manifest.json, written last (a directory without a manifest is an
// unfinished conversion and is rejected by the reader).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/base/json.h"
#include "hpcai/base/status.h"
#include "hpcai/io/reader.h"

namespace hpcai::io {

constexpr int kDatasetFormatVersion = 1;

// How a dataset is laid out on disk.
struct DatasetLayout {
  std::vector<int64_t> sample_shape;  // e.g. {1, 28, 28}
  std::string dtype = "float32";      // float32 | uint8
  float scale = 1.0f, offset = 0.0f;  // reader: x_float = float(x) * scale + offset
  int num_classes = 0;                // 0: max label + 1, found while writing
  int64_t chunk_samples = 0;          // rows per HDF5 chunk; 0: about 1 MiB per chunk
  std::string compression = "none";   // none | gzip
  int gzip_level = 4;
  // HDF5's per-chunk Fletcher-32 checksum filter: a flipped byte in the data
  // becomes a read error instead of silently wrong samples.
  bool chunk_checksums = true;
  int64_t samples_per_shard = 0;      // 0: everything in one shard
  std::string x_name = "x", y_name = "y";
  Json source;                        // free-form provenance stored in manifest.json
};

// Rows per chunk used when layout.chunk_samples == 0: the power of two
// closest below 1 MiB / row_bytes (at least 1).
int64_t DefaultChunkSamples(int64_t row_bytes);

// Streams samples into a new dataset directory.
class DatasetWriter {
 public:
  // Creates `dir` (mkdir -p).  FailedPrecondition if it already holds a
  // manifest.json and !overwrite (then old shards are removed first).
  // total_samples must be known up front (shard sizes are fixed).
  static Result<std::unique_ptr<DatasetWriter>> Create(const std::string& dir, const DatasetLayout& layout,
                                                       int64_t total_samples, bool overwrite = false);
  ~DatasetWriter();

  // Appends n samples: x is (n, feature_dim) in layout.dtype (uint8_t or
  // float), y is (n) labels.  Labels must be >= 0 and < num_classes when
  // num_classes was given (InvalidArgument naming the sample otherwise).
  Status Append(const void* x, const int32_t* y, int64_t n);
  // Closes the last shard, checks that total_samples were appended, computes
  // each shard's sha256 and writes manifest.json (atomically, last).
  Status Finish();

  // Largest label appended so far (-1 if none).
  int32_t max_label() const { return max_label_; }
  // Overrides num_classes before Finish (e.g. the max over several outputs
  // of one conversion).  Must be > every label appended.
  void set_num_classes(int n) { layout_.num_classes = n; info_.num_classes = n; }
  int64_t appended() const { return appended_; }
  int64_t bytes_on_disk() const { return bytes_on_disk_; }  // after Finish
  const DatasetInfo& info() const { return info_; }          // after Finish

 private:
  DatasetWriter() = default;
  Status OpenShard(int index);
  Status CloseShard();
  Status FlushPending();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  DatasetLayout layout_;
  DatasetInfo info_;
  int64_t total_ = 0, appended_ = 0, bytes_on_disk_ = 0;
  int32_t max_label_ = -1;
  std::vector<int64_t> label_counts_;
};

// "[1,28,28]": a shape in error messages and `hpcai data inspect`.
std::string ShapeString(const std::vector<int64_t>& shape);

// Sets the dataset description keys shared by manifest.json and `hpcai data
// inspect --json`, in this order: format_version, num_samples, sample_shape,
// dtype, scale, offset, num_classes, chunk_samples, compression, x, y,
// label_counts.  `out` must be a JSON object; the caller adds the rest.
void SetDatasetFields(const DatasetInfo& info, const std::vector<int64_t>& label_counts, Json* out);

// manifest.json of a dataset as written by DatasetWriter.
Json ManifestJson(const DatasetInfo& info, const std::vector<int64_t>& label_counts, const Json& source);

// What `hpcai data inspect` shows.
struct DatasetSummary {
  DatasetInfo info;
  std::vector<int64_t> label_counts;        // per class, recounted from the shards' y
  std::vector<int64_t> shard_bytes;         // size on disk per shard
  int64_t bytes_on_disk = 0;                // shards + manifest
  Json source;                              // provenance from the manifest
};

// Validates the dataset (ReadDatasetInfo) and reads all labels (one bulk
// read per shard) to build the histogram; labels outside [0, num_classes)
// are a Corrupt error naming the shard and sample.
Result<DatasetSummary> InspectDataset(const std::string& dir, const std::string& x_name = "x",
                                      const std::string& y_name = "y");

// Recomputes the sha256 of every shard and compares it with manifest.json.
// Returns Corrupt naming the first bad shard (expected vs actual digest).
// `progress(shard_index, ok)` is called after each shard when set.
Status VerifyDataset(const DatasetInfo& info, const std::function<void(size_t, bool)>& progress = {});

}  // namespace hpcai::io
