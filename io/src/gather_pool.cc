#include "hpcai/io/gather_pool.h"

#include <chrono>

namespace hpcai::io {

namespace {
constexpr size_t kPiecesPerThread = 4;  // per helper thread, the caller and one offered helper

void Pause() {
#if defined(__x86_64__)
  __builtin_ia32_pause();
#endif
}
}  // namespace

GatherPool::GatherPool(int helper_threads) : pieces_(kPiecesPerThread * static_cast<size_t>(helper_threads + 2)) {
  next_.store(pieces_);  // no range yet: Help() finds nothing to claim
  for (int i = 0; i < helper_threads; ++i) threads_.emplace_back([this] { Loop(); });
}

GatherPool::~GatherPool() {
  stop_.store(true);
  gen_.fetch_add(1);
  gen_.notify_all();
  for (auto& t : threads_) t.join();
}

void GatherPool::Run(size_t n, const std::function<void(size_t, size_t)>& fn, bool wake_helpers) {
  runs_.fetch_add(1, std::memory_order_relaxed);
  fn_.store(&fn);
  n_.store(n);
  done_.store(0);  // before next_: a helper may claim a piece the moment next_ is 0
  next_.store(0);
  if (wake_helpers && !threads_.empty()) {
    gen_.fetch_add(1);
    gen_.notify_all();
  }
  Work();
  while (done_.load() < pieces_) Pause();
}

bool GatherPool::Help() {
  const size_t did = Work();
  helped_.fetch_add(did, std::memory_order_relaxed);
  return did > 0;
}

size_t GatherPool::Work() {
  size_t did = 0;
  for (size_t p = next_.fetch_add(1); p < pieces_; p = next_.fetch_add(1), ++did) {
    const size_t n = n_.load();
    (*fn_.load())(n * p / pieces_, n * (p + 1) / pieces_);
    done_.fetch_add(1);
  }
  return did;
}

void GatherPool::Loop() {
  uint64_t seen = 0;
  while (true) {
    const auto spin_end = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
    while (gen_.load() == seen && std::chrono::steady_clock::now() < spin_end) Pause();
    gen_.wait(seen);
    seen = gen_.load();
    if (stop_.load()) return;
    Work();
  }
}

}  // namespace hpcai::io
