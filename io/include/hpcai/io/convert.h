// Converters into the hpcai dataset format (docs/data-format.md) and the
// synthetic-data generator behind `hpcai data convert` / `hpcai data synth`.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::io {

// Called now and then while converting: samples written so far, total
// samples, input bytes consumed so far.
using ProgressFn = std::function<void(int64_t done, int64_t total, int64_t bytes_in)>;

struct ConvertOptions {
  std::string from;                       // idx | npy | csv | hdf5
  std::vector<std::string> inputs;        // files or directories (see docs/data-format.md)
  std::string out;                        // output directory
  int64_t shards = 0;                     // K shards per dataset (0: use shard_size_mb)
  double shard_size_mb = 0;               // target MB of x per shard (0 and shards 0: 256 MB)
  int64_t chunk_samples = 0;              // rows per HDF5 chunk (0: about 1 MiB)
  std::string compression = "none";       // none | gzip
  // Carve random subsets out of the training part: {"val", 0.1} -> out/train + out/val.
  std::vector<std::pair<std::string, double>> split;
  uint64_t seed = 0;                      // for the split
  std::string dtype;                      // "" (keep: uint8 stays uint8), float32, uint8
  int num_classes = 0;                    // 0: max label + 1 over all parts
  std::string x_name = "x", y_name = "y"; // dataset names inside --from hdf5 inputs
  std::string label_column;               // csv: header name or 0-based index ("" = label/y/class/target, else 0)
  bool overwrite = false;
  bool chunk_checksums = true;            // HDF5 Fletcher-32 per chunk
  ProgressFn progress;
};

struct ConvertedPart {
  std::string name;       // train | test | val | ... ("" when out is the dataset itself)
  std::string dir;
  int64_t samples = 0;
  int64_t shards = 0;
  int64_t bytes_out = 0;
};

struct ConvertSummary {
  std::vector<ConvertedPart> parts;
  int64_t samples = 0;
  int64_t bytes_in_files = 0;   // size of the input files on disk (compressed if .gz)
  int64_t bytes_in_raw = 0;     // decoded x + y bytes read
  int64_t bytes_out = 0;        // shards + manifests written
  double seconds = 0;
};

// Converts inputs into one dataset (one input part, no split) at options.out,
// or into out/<part> for several parts (IDX train/t10k pairs -> train, test)
// and splits.  x/y values are copied bit-exactly (uint8 -> uint8 with
// scale 1/255; integers other than uint8 and float64 -> float32).
// Errors name the input file and the problem.
Result<ConvertSummary> Convert(const ConvertOptions& options);

struct SynthOptions {
  int64_t samples = 0;
  std::vector<int64_t> shape;   // {F} or {C, H, W}
  int classes = 2;
  std::string out;
  uint64_t seed = 0;              // draws the samples
  // Draws the class means: the "task".  Data sets made with the same
  // task_seed (and shape/classes/separation) but different `seed`s are
  // independent samples of the same problem, e.g. a train and a val split.
  uint64_t task_seed = 0;
  // Distance between two class means in units of the noise's standard
  // deviation (larger = easier).  Means are Gaussian, scaled so that the
  // expected distance is `separation` whatever the feature count.
  double separation = 3.0;
  int64_t shards = 0;
  double shard_size_mb = 0;
  int64_t chunk_samples = 0;
  std::string compression = "none";
  bool overwrite = false;
  ProgressFn progress;
};

// Writes learnable synthetic data: y uniform over classes, x = mean[y] +
// N(0, 1) noise, float32.  Deterministic in (task_seed, seed) (hpcai::Rng).
Result<ConvertSummary> Synth(const SynthOptions& options);

}  // namespace hpcai::io
