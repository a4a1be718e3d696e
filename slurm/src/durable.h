// Cheaper durability for submission (internal to slurm/): files are first
// made visible and whole (temp + rename, no fsync), then made durable
// together by one barrier (DurableBarrier) before `hpcai submit` returns.
// Used where a crash before the barrier loses nothing that matters (the job
// does not exist yet, or its id is re-recorded); everything else uses
// fs::AtomicWriteFile.
#pragma once

#include <pthread.h>

#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::slurm {

// Writes `path.tmp.<pid>` and renames it over `path`: readers see the old or
// the new file, never a torn one.  Not durable until DurableBarrier.
Status WriteVisible(const std::string& path, const std::string& data);

// Makes every file and directory in `paths` durable and returns the first
// failure.  Two passes: first the write-back of every file's data is started
// (sync_file_range, no waiting), then each path is fsync'ed in order.  Every
// path still gets its own fsync, so durability does not depend on the file
// system; on a journalling one (ext4, XFS) the first fsync then commits one
// transaction that already holds every file's block allocation, and the
// others find nothing left to commit: one commit instead of one per file
// (docs/slurm.md, "Benchmarks").  Sequential in the calling thread.
Status DurableBarrier(const std::vector<std::string>& paths);

// DurableBarrier on its own thread, started by the constructor: submission
// starts it before the Slurm RPC so the fsyncs overlap the controller's round
// trip.  The thread runs as SCHED_BATCH (it does not preempt the submitting
// thread).  Wait() joins it (the destructor does too).  The thread allocates
// nothing on success, so the C library does not create a malloc arena for it
// (a 128 MiB reservation and two unmaps, whose TLB shootdowns interrupt the
// submitting thread).  If the thread cannot be created, Wait() runs the
// barrier itself.
class BackgroundBarrier {
 public:
  explicit BackgroundBarrier(std::vector<std::string> paths);
  ~BackgroundBarrier();
  BackgroundBarrier(const BackgroundBarrier&) = delete;
  BackgroundBarrier& operator=(const BackgroundBarrier&) = delete;

  Status Wait();

 private:
  static void* Run(void* self);

  std::vector<std::string> paths_;
  Status result_;
  pthread_t thread_{};
  bool started_ = false;
  bool done_ = false;
};

}  // namespace hpcai::slurm
