#include "hpcai/kernels/parallel.h"

#include <cblas.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HPCAI_CPU_RELAX() _mm_pause()
#else
#define HPCAI_CPU_RELAX() ((void)0)
#endif

namespace hpcai::kernels {
namespace {

// ~15 us of spinning (a pause is ~30 ns here) before sleeping: long enough
// for the back-to-back regions of a step on an idle machine, short enough
// not to steal a busy machine's cores from the threads we wait for.
constexpr int kSpinIters = 500;

// Returns once word != old: spins, then sleeps in the kernel (futex).
void WaitWhileEquals(const std::atomic<uint32_t>& word, uint32_t old) {
  for (int i = 0; i < kSpinIters; ++i) {
    if (word.load(std::memory_order_acquire) != old) return;
    HPCAI_CPU_RELAX();
  }
  while (word.load(std::memory_order_acquire) == old) word.wait(old, std::memory_order_acquire);
}

}  // namespace

ThreadPool::ThreadPool(int threads) { Resize(threads); }

ThreadPool::~ThreadPool() { StopWorkers(); }

void ThreadPool::Resize(int threads) {
  if (threads < 1) threads = 1;
  if (threads == threads_ && static_cast<int>(workers_.size()) == threads - 1) return;
  StopWorkers();
  threads_ = threads;
  StartWorkers();
}

void ThreadPool::StartWorkers() {
  stop_.store(false, std::memory_order_relaxed);
  workers_.reserve(threads_ - 1);
  // The generation a worker starts from is read here, before it exists: a
  // worker that started late must still see the first Run() as new.
  const uint32_t start = generation_.load(std::memory_order_acquire);
  for (int i = 1; i < threads_; ++i) {
    workers_.emplace_back([this, i, start] { WorkerLoop(i, start); });
  }
}

void ThreadPool::StopWorkers() {
  if (workers_.empty()) return;
  stop_.store(true, std::memory_order_release);
  generation_.fetch_add(1, std::memory_order_acq_rel);
  generation_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void ThreadPool::WorkerLoop(int index, uint32_t seen) {
  for (;;) {
    WaitWhileEquals(generation_, seen);
    seen = generation_.load(std::memory_order_acquire);
    if (stop_.load(std::memory_order_acquire)) return;
    (*job_)(index);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
  }
}

void ThreadPool::Run(const std::function<void(int)>& fn) {
  if (threads_ == 1) {
    fn(0);
    return;
  }
  job_ = &fn;
  pending_.store(static_cast<uint32_t>(threads_ - 1), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_acq_rel);  // publishes job_ and pending_
  generation_.notify_all();
  fn(0);
  for (uint32_t p = pending_.load(std::memory_order_acquire); p != 0;
       p = pending_.load(std::memory_order_acquire)) {
    WaitWhileEquals(pending_, p);
  }
}

void ThreadPool::Barrier() {
  if (threads_ == 1) return;
  const uint32_t phase = barrier_phase_.load(std::memory_order_acquire);
  if (barrier_count_.fetch_add(1, std::memory_order_acq_rel) + 1 ==
      static_cast<uint32_t>(threads_)) {
    barrier_count_.store(0, std::memory_order_relaxed);
    barrier_phase_.fetch_add(1, std::memory_order_acq_rel);
    barrier_phase_.notify_all();
    return;
  }
  WaitWhileEquals(barrier_phase_, phase);
}

void ThreadPool::ParallelFor(int64_t n, int64_t min_parallel,
                             const std::function<void(int64_t, int64_t)>& fn) {
  if (n <= 0) return;
  if (threads_ == 1 || n < min_parallel) {
    fn(0, n);
    return;
  }
  Run([&](int t) {
    int64_t b, e;
    ShardRange(n, threads_, t, &b, &e);
    if (b < e) fn(b, e);
  });
}

ThreadPool& CpuPool() {
  static ThreadPool* pool = new ThreadPool(1);  // leaked on purpose: no exit-order issues
  return *pool;
}

void SetCpuThreads(int threads) {
  if (threads < 1) threads = 1;
  CpuPool().Resize(threads);
  openblas_set_num_threads(1);
}

}  // namespace hpcai::kernels
