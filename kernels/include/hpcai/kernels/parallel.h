// The CPU backend's threads: one process-wide pool of workers that runs
// "one task per thread" regions (the model's batch shards, the optimizer's
// slices).  Persistent workers, no allocation per region, no OpenMP.
//
// Thread-count policy (SetCpuThreads): hpcai parallelises a training step
// itself, by splitting the batch into one shard per thread, each shard
// calling single-threaded OpenBLAS.  On small/medium GEMMs this scales better
// than OpenBLAS's own threading (no fork/join inside every GEMM), so OpenBLAS
// is set to 1 thread whenever the pool has more than one.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace hpcai::kernels {

class ThreadPool {
 public:
  explicit ThreadPool(int threads = 1);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Number of participants in Run() (workers + the calling thread), >= 1.
  int threads() const { return threads_; }
  // Changes the number of threads (joins/starts workers).  Not while Run() is active.
  void Resize(int threads);

  // Calls fn(t) for every t in [0, threads()) concurrently and returns when
  // all have returned.  t == 0 runs on the calling thread (so MPI calls made
  // by task 0 come from the thread that called Run).  fn must not throw.
  // Run is not reentrant and must be called by one thread at a time.
  void Run(const std::function<void(int)>& fn);

  // Inside Run(): blocks until all threads() tasks have reached it.
  void Barrier();

  // Convenience: splits [0, n) into threads() contiguous ranges (the split
  // depends only on n and threads()) and calls fn(begin, end) for each
  // non-empty range.  Runs inline when n < min_parallel or threads() == 1.
  void ParallelFor(int64_t n, int64_t min_parallel,
                   const std::function<void(int64_t, int64_t)>& fn);

 private:
  void WorkerLoop(int index, uint32_t start_generation);
  void StopWorkers();
  void StartWorkers();

  // Waiting is "spin briefly, then sleep on the word" (C++20 atomic wait =
  // futex): regions and barriers follow each other within microseconds, but
  // the machine may have more runnable threads than cores (other ranks, other
  // jobs), and a thread spinning for a descheduled peer would keep that peer
  // off the core it needs.
  int threads_ = 1;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* job_ = nullptr;
  std::atomic<uint32_t> generation_{0};  // bumped by Run() (and to stop)
  std::atomic<uint32_t> pending_{0};     // workers still running the job
  std::atomic<bool> stop_{false};
  // Phase barrier: the last of threads_ arrivals bumps the phase.
  std::atomic<uint32_t> barrier_count_{0};
  std::atomic<uint32_t> barrier_phase_{0};
};

// The process-wide pool used by models and optimizers.
ThreadPool& CpuPool();

// Sets the process-wide CPU thread budget: CpuPool() gets `threads` threads and
// OpenBLAS is set to 1 thread (the pool's tasks call it concurrently, one
// shard each).  Call from the main thread before training, not during a step;
// do not raise OpenBLAS's thread count afterwards.  threads < 1 is treated as 1.
void SetCpuThreads(int threads);

// Shard s of t of [0, n): contiguous, sizes differ by at most one, depends only on (n, t).
inline void ShardRange(int64_t n, int shards, int s, int64_t* begin, int64_t* end) {
  *begin = n * s / shards;
  *end = n * (s + 1) / shards;
}

}  // namespace hpcai::kernels
