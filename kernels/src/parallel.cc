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

// Spin briefly before yielding/sleeping: regions follow each other within
// microseconds during a step, but the machine may be oversubscribed (other
// ranks, other jobs), so never spin unboundedly without yielding.
constexpr int kSpinIters = 4000;

template <typename Pred>
void SpinWait(Pred done) {
  for (int i = 0; !done(); ++i) {
    if (i < kSpinIters) {
      HPCAI_CPU_RELAX();
    } else {
      std::this_thread::yield();
    }
  }
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
  stop_ = false;
  workers_.reserve(threads_ - 1);
  // The generation a worker starts from is read here, before it exists: a
  // worker that started late must still see the first Run() as new.
  const uint64_t start = generation_.load(std::memory_order_acquire);
  for (int i = 1; i < threads_; ++i) {
    workers_.emplace_back([this, i, start] { WorkerLoop(i, start); });
  }
}

void ThreadPool::StopWorkers() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void ThreadPool::WorkerLoop(int index, uint64_t seen) {
  for (;;) {
    // Short spin for back-to-back regions, then sleep on the condition variable.
    for (int i = 0; i < kSpinIters && generation_.load(std::memory_order_acquire) == seen; ++i) {
      HPCAI_CPU_RELAX();
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return generation_.load(std::memory_order_acquire) != seen; });
    }
    seen = generation_.load(std::memory_order_acquire);
    const std::function<void(int)>* job;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_) return;
      job = job_;
    }
    (*job)(index);
    pending_.fetch_sub(1, std::memory_order_acq_rel);
  }
}

void ThreadPool::Run(const std::function<void(int)>& fn) {
  if (threads_ == 1) {
    fn(0);
    return;
  }
  pending_.store(threads_ - 1, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    job_ = &fn;
    generation_.fetch_add(1, std::memory_order_release);
  }
  cv_.notify_all();
  fn(0);
  SpinWait([&] { return pending_.load(std::memory_order_acquire) == 0; });
}

void ThreadPool::Barrier() {
  if (threads_ == 1) return;
  uint64_t phase = barrier_phase_.load(std::memory_order_acquire);
  if (barrier_count_.fetch_add(1, std::memory_order_acq_rel) + 1 == threads_) {
    barrier_count_.store(0, std::memory_order_relaxed);
    barrier_phase_.fetch_add(1, std::memory_order_release);
    return;
  }
  SpinWait([&] { return barrier_phase_.load(std::memory_order_acquire) != phase; });
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
