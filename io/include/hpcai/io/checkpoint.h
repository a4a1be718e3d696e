// Versioned HDF5 checkpoints (format: docs/checkpoint-format.md).
//
// One file per checkpoint, <dir>/ckpt-<step>.h5, plus <dir>/LATEST naming
// the newest one.  A checkpoint holds named float32 tensors (parameters and
// optimizer state), scalar metadata (step, epoch, data cursor, world size,
// spec hash, versions, optimizer step, schedule state), the RNG state of
// every rank, a CRC-32C per tensor, and a `complete` attribute written last.
//
// Writing is crash-safe: ckpt-<step>.h5.tmp -> flush -> fsync -> rename ->
// fsync(dir) -> LATEST replaced atomically -> only then older checkpoints are
// pruned.  A kill at any moment leaves the previous checkpoint loadable, and
// readers never take a *.tmp file.
//
// All HDF5 work is serialised inside io/ (HDF5 here is not thread-safe), so
// the async writer's thread may run next to a streaming ShardReader.
#pragma once

#include <mpi.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hpcai/base/json.h"
#include "hpcai/base/status.h"

namespace hpcai::io {

constexpr int kCheckpointFormatVersion = 1;
constexpr const char* kCheckpointMagic = "hpcai-checkpoint";

// Scalar metadata.  format_version / created_unix are filled by the writer.
struct CheckpointMeta {
  int64_t step = 0;               // optimizer steps completed
  int64_t epoch = 0;              // epoch of the next batch
  int64_t data_cursor = 0;        // next global batch within that epoch (ShardReader::Seek(epoch, cursor))
  int world_size = 1;
  std::string spec_hash;          // compatibility key chosen by the runtime
  std::string hpcai_version;      // "" -> this build's version
  int format_version = kCheckpointFormatVersion;
  int64_t optimizer_step = 0;     // e.g. Adam's t
  Json schedule;                  // schedule state (lr, warmup, ...), any JSON
  Json extra;                     // free-form (loss, val accuracy, ...), any JSON
  double created_unix = 0;
};

// Per-rank RNG state (hpcai::Rng::state0/state1).
struct RngState {
  uint64_t s0 = 0, s1 = 0;
  bool operator==(const RngState& o) const { return s0 == o.s0 && s1 == o.s1; }
};

// A tensor to write, by reference: the caller keeps `data` alive (and
// unchanged) until WriteCheckpoint returns or AsyncCheckpointWriter::Submit
// returns (Submit copies it).
struct TensorRef {
  std::string name;                // "params/fc1/w": '/' makes HDF5 groups
  std::vector<int64_t> shape;
  const float* data = nullptr;     // product(shape) floats
};

struct CheckpointData {
  CheckpointMeta meta;
  std::vector<TensorRef> tensors;
  std::vector<RngState> rng;       // one per rank (meta.world_size entries)
};

// A loaded tensor.
struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct Checkpoint {
  std::string path;
  CheckpointMeta meta;
  std::vector<Tensor> tensors;     // in the order they were written
  std::vector<RngState> rng;
  const Tensor* Find(const std::string& name) const;
};

// "ckpt-<step>.h5".
std::string CheckpointFileName(int64_t step);

// Writes a checkpoint into `dir` (created if missing) with the crash-safe
// sequence above, then keeps only the newest `keep_last` checkpoints
// (keep_last <= 0 keeps all).  Returns the final path.  Call on one rank
// (rank 0) with the gathered per-rank RNG states.  Errors name the file.
Result<std::string> WriteCheckpoint(const std::string& dir, const CheckpointData& data, int keep_last);

// The two halves of WriteCheckpoint: everything up to a durable file and a
// durable LATEST (what a caller waits for), and the keep_last housekeeping.
// Pruning unlinks whole files (page-cache invalidation and extent freeing,
// ~10 ms per 64 MB here), so a caller may do it later or on another thread.
Result<std::string> WriteCheckpointDurable(const std::string& dir, const CheckpointData& data);
void PruneCheckpoints(const std::string& dir, int keep_last, int64_t newest_step);

struct ReadCheckpointOptions {
  std::string expect_spec_hash;    // "" = accept any spec hash
  bool load_tensors = true;        // false: verify everything, keep only metadata
};

// Reads and verifies one checkpoint file: HDF5 structure, magic, format
// version (newer -> FailedPrecondition), `complete` marker, every tensor's
// CRC-32C and the spec hash.  Refuses *.tmp paths.  Corrupt / NotFound /
// FailedPrecondition naming the file and the problem.
Result<Checkpoint> ReadCheckpoint(const std::string& path, const ReadCheckpointOptions& options = {});

struct FoundCheckpoint {
  Checkpoint checkpoint;
  std::vector<std::string> warnings;  // e.g. "ckpt-300.h5 is corrupt (...); using ckpt-200.h5"
};

// The newest valid checkpoint in `dir`: the one LATEST names if it verifies,
// else the other ckpt-<step>.h5 files by decreasing step (never *.tmp), with
// a warning for each one skipped.  NotFound when dir holds no valid
// checkpoint (the message lists why each candidate was rejected).
Result<FoundCheckpoint> FindLatestValid(const std::string& dir, const ReadCheckpointOptions& options = {});

// Multi-rank: rank `root` runs FindLatestValid (metadata only) and
// broadcasts the chosen path (or its error) so every rank of comm loads the
// same file or fails with the same Status.  Collective.
Result<std::string> AgreeLatestValid(const std::string& dir, const ReadCheckpointOptions& options, MPI_Comm comm,
                                     int root = 0, std::vector<std::string>* warnings = nullptr);

// One line of `hpcai ckpt list`.
struct CheckpointEntry {
  std::string path;
  int64_t step = -1;
  int64_t bytes = 0;
  bool valid = false;
  bool latest = false;             // LATEST names it
  std::string error;               // why it is not valid
  CheckpointMeta meta;             // when valid
};
// Every ckpt-*.h5 in dir (not *.tmp), verified, by increasing step.
Result<std::vector<CheckpointEntry>> ListCheckpoints(const std::string& dir);

// Writes checkpoints on a background thread.  Submit() copies the state into
// host buffers owned by the writer (so training may continue and change its
// tensors at once), and at most one write is in flight: Submit waits for the
// previous write first.  Thread-compatible: one caller thread.
class AsyncCheckpointWriter {
 public:
  AsyncCheckpointWriter(std::string dir, int keep_last);
  ~AsyncCheckpointWriter();  // waits for the write in flight
  AsyncCheckpointWriter(const AsyncCheckpointWriter&) = delete;
  AsyncCheckpointWriter& operator=(const AsyncCheckpointWriter&) = delete;

  // Waits for the previous write, copies `data` and starts writing it.
  // Returns the previous write's error, if it failed (this one still starts).
  Status Submit(const CheckpointData& data);
  // Blocks until no write is in flight; returns the last write's status.
  Status Wait();
  bool busy() const;
  // Path of the last successfully written checkpoint ("" if none).
  std::string last_path() const;
  // Seconds Submit() spent waiting for a previous write plus copying, since
  // the last call (the training stall caused by checkpointing).
  double TakeStallSeconds();

 private:
  void Run();
  std::string dir_;
  int keep_last_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false, busy_ = false, stop_ = false;
  Status last_status_;
  std::string last_path_;
  double stall_ = 0;
  // The copied state (buffers reused between checkpoints).
  CheckpointMeta meta_;
  std::vector<std::string> names_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<std::vector<float>> buffers_;
  std::vector<RngState> rng_;
  std::thread thread_;
};

}  // namespace hpcai::io
