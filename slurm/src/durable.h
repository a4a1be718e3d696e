// Cheaper durability for submission (internal to slurm/): files are first
// made visible and whole (temp + rename, no fsync), then made durable
// together by one barrier (DurableBarrier) before `hpcai submit` returns.
// Used where a crash before the barrier loses nothing that matters (the job
// does not exist yet, or its id is re-recorded); everything else uses
// fs::AtomicWriteFile.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
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

// A file to make visible: written to `tmp`, then renamed over `path`.
struct PlannedFile {
  std::string path;
  std::string tmp;
  std::string data;
};

// What a submission writes before its RPC, prepared in full (paths, contents)
// by the submitting thread, so that carrying it out is system calls only:
// directories to create (one that exists is fine), files to write in order
// (WriteVisible each), then the paths to make durable.
struct WritePlan {
  std::vector<std::string> dirs;
  std::vector<PlannedFile> files;
  std::vector<std::string> spares;  // empty files, created last
  std::vector<std::string> sync;

  // Adds a file (its temp name is `path.tmp.<pid>`, as WriteVisible's).
  void AddFile(const std::string& path, std::string data);
  // Creates WriteVisible(path)'s temp file ahead, empty: that later write
  // then reuses its inode instead of allocating one (after the RPC, on the
  // submission's critical path; an allocation can take 50-150 us on ext4
  // without a journal after many deletions).
  void AddSpareTemp(const std::string& path);
};

// Creates plan.dirs, writes plan.files and creates plan.spares, in order, in
// the calling thread; stops at the first failure and returns it.  No fsync.
Status ExecuteWrites(const WritePlan& plan);

// A WritePlan carried out on its own thread, started by the constructor:
// first the directories and files (WaitWritten() returns once they are
// visible, or why they are not), then DurableBarrier(plan.sync) (Wait()
// returns once they are durable; the destructor waits too).  Submission
// starts it right after claiming the run directory: the files are written
// while the submitting thread loads the Slurm client configuration, and the
// fsyncs run during the RPC.
//
// The thread starts on another CPU than its creator's when there is one, runs
// as SCHED_BATCH (created while its creator is briefly batch, so it never runs
// in its creator's place, and never preempts it when it wakes), and allocates
// nothing unless something fails, so the C library does not create a malloc
// arena for it (a 128 MiB reservation and two unmaps, whose TLB shootdowns
// interrupt the submitting thread).  If the thread cannot be created,
// WaitWritten() and Wait() do the work themselves.
class BackgroundWriter {
 public:
  explicit BackgroundWriter(WritePlan plan);
  ~BackgroundWriter();
  BackgroundWriter(const BackgroundWriter&) = delete;
  BackgroundWriter& operator=(const BackgroundWriter&) = delete;

  Status WaitWritten();
  Status Wait();

 private:
  static void* Run(void* self);

  WritePlan plan_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool written_ = false;  // guarded by mu_
  Status write_status_;   // set before written_
  Status sync_status_;    // set by the thread before it ends
  cpu_set_t allowed_{};   // this process's CPUs, when placed_
  bool placed_ = false;   // the thread was started on another CPU
  std::atomic<bool> running_{false};
  pthread_t thread_{};
  bool started_ = false;
  bool joined_ = false;
};

}  // namespace hpcai::slurm
