// The sharded HDF5 dataset reader used by hpcai-train (format: docs/data-format.md).
//
// Sample order: for epoch e the global order is a permutation that depends on
// (seed, e) only; global batch b holds order positions [b*B, (b+1)*B).  Rank r
// of R takes the contiguous slice [r*n/R, (r+1)*n/R) of each global batch of
// n samples (n = B except possibly the last).  So the sequence of global
// batches is identical for any number of ranks.
//
// Two read modes, chosen once at Open (the same on every rank, since it
// depends only on the dataset and the options):
//  - cache: x (as stored, e.g. uint8) fits memory_budget_mb, so Open loads
//    the whole dataset with one bulk read per shard, and batches are gathered
//    from memory (no HDF5 call per batch).  Order = Fisher-Yates permutation
//    of [0, N) driven by Rng(MixSeed(seed, epoch)) (see ShufflePermutation).
//  - stream: x does not fit.  The dataset is cut into blocks of
//    chunk_samples rows (one HDF5 chunk each); the block order is shuffled
//    with Rng(MixSeed(seed, epoch, 1)), consecutive groups of K blocks form a
//    window, and the samples of window w are shuffled with
//    Rng(MixSeed(seed, epoch, 2 + w)).  Each block is read with one
//    hyperslab H5Dread.  K depends on the memory budget and the dataset only
//    (never on the rank count): K = budget / (2 * block bytes), at least 1.
// With shuffle=false the order is 0..N-1 in both modes.
#pragma once

#include <mpi.h>

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
  // Additions (data helper): names of the x/y datasets actually opened,
  // compression of the shards and the manifest's format version.
  std::string x_name = "x", y_name = "y";
  std::string compression = "none";   // none | gzip
  int format_version = 1;
  // Stored bytes of one sample of x (feature_dim * 1 or 4).
  int64_t row_bytes() const;
};

// Reads and validates manifest.json and the shard headers (not the data).
// NotFound / Corrupt with the file name and the problem.
// Thread-safe (HDF5 access is serialised inside io/).
Result<DatasetInfo> ReadDatasetInfo(const std::string& dir, const std::string& x_name = "x",
                                    const std::string& y_name = "y");

enum class ReadMode { kAuto, kCache, kStream };

struct ReaderOptions {
  std::string x_name = "x", y_name = "y";
  int64_t global_batch = 256;
  int rank = 0, world_size = 1;
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;
  int prefetch = 2;                  // batches read ahead by a background thread (0 = synchronous)
  int64_t memory_budget_mb = 1024;   // above this the reader streams instead of caching all of x
  // Additions (data helper):
  ReadMode mode = ReadMode::kAuto;   // kAuto: cache if x fits memory_budget_mb, else stream
  int64_t window_chunks = 0;         // stream mode: K blocks per shuffle window (0 = from the budget)
  // Threads that copy a batch's rows (1 = the producing thread alone).  A
  // random-row gather from a buffer far larger than the caches is bound by
  // memory latency, not bandwidth: a second thread nearly doubles it.  The
  // helper sleeps (futex) between batches.
  int gather_threads = 1;
  int64_t gather_min_bytes = 256 << 10;  // smaller batches are copied by one thread
  // Collective parallel HDF5 (MPI-IO driver, H5FD_MPIO_COLLECTIVE transfers),
  // meant for a few large files on a parallel file system.  Every rank of
  // `comm` must call Open; in cache mode the load is split across ranks (each
  // reads 1/R of every shard collectively, then MPI_Allgatherv), in stream
  // mode every window is read collectively inside Next() (prefetch is forced
  // to 0 so MPI is only called from the consumer's thread), so all ranks must
  // call Seek/Next in lockstep (training does).
  bool collective = false;
  MPI_Comm comm = MPI_COMM_WORLD;
  // Stream mode (not collective): rows of an unfiltered x (no compression,
  // no chunk checksums) are copied straight from the page cache through a
  // read-only mapping of the shard, once, instead of H5Dread into a window
  // buffer and a second copy out of it.  Shards that cannot be mapped use
  // H5Dread.  The mapping holds no memory of its own: its pages are the
  // page cache's (which any read fills too), clean and reclaimable by the
  // kernel, so the budget above still bounds the reader's own buffers.
  bool map_rows = true;
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
  // In cache mode the data is loaded here (so corrupt data and out-of-range
  // labels are reported by Open); in stream mode by Next().  In a multi-rank
  // job pass the result's status through io::AgreeStatus (parallel.h) so every
  // rank stops together.  Collective mode: every rank of options.comm must call.
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

  // Additions (data helper):
  // The mode chosen at Open (kCache or kStream).
  virtual ReadMode mode() const = 0;
  // The global sample order of `epoch` (dataset indices, shard order), N
  // entries; the same on every rank.  For tests and tools (O(N) memory).
  virtual std::vector<int64_t> EpochOrder(int64_t epoch) const = 0;
  // Stream mode: how many shards are read through a mapping (map_rows); the
  // rest go through H5Dread.  0 in cache mode.
  virtual int mapped_shards() const = 0;
  // Pieces of the batches' row copies since Open, and how many of them the
  // consumer made itself while it waited in Next().
  struct GatherStats {
    int64_t pieces = 0, by_consumer = 0;
    double consumer_share() const { return pieces > 0 ? static_cast<double>(by_consumer) / pieces : 0.0; }
  };
  virtual GatherStats gather_stats() const = 0;
};

// The cache-mode permutation: [0, n) shuffled by Fisher-Yates
// (for i = n-1 .. 1: j = rng.Below(i + 1); swap(p[i], p[j])) with
// Rng rng(MixSeed(seed, epoch)).
std::vector<int64_t> ShufflePermutation(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace hpcai::io
