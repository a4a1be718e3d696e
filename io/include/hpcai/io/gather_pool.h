// GatherPool: one range of independent copies split between the thread that
// asks for it, helper threads, and any thread that offers to help meanwhile
// (the reader's consumer while it waits for that very batch).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace hpcai::io {

// The range is cut into small pieces claimed through an atomic counter, so
// the caller never waits for a helper to wake up: a late helper just finds
// fewer pieces left.  A helper thread spins ~100 us after a range before
// sleeping (futex), which keeps it awake while batches stream.
// Run() is called by one thread at a time; Help() by any thread.
class GatherPool {
 public:
  explicit GatherPool(int helper_threads);
  ~GatherPool();
  GatherPool(const GatherPool&) = delete;
  GatherPool& operator=(const GatherPool&) = delete;

  // fn(lo, hi) over [0, n) in pieces, on the caller, the helper threads (when
  // wake_helpers) and whoever calls Help() meanwhile; returns when all are done.
  void Run(size_t n, const std::function<void(size_t, size_t)>& fn, bool wake_helpers);
  // Runs pieces of the range in progress, if any are left; false if none.
  // A claim only succeeds between Run()'s start and its last piece, and
  // Run() returns only after every claimed piece is done.
  bool Help();

  size_t pieces() const { return pieces_; }                                  // per Run()
  uint64_t runs() const { return runs_.load(std::memory_order_relaxed); }    // Run() calls so far
  uint64_t helped() const { return helped_.load(std::memory_order_relaxed); }  // pieces run by Help()

 private:
  size_t Work();  // claims and runs pieces until none are left; returns how many
  void Loop();    // a helper thread

  std::vector<std::thread> threads_;
  std::atomic<uint64_t> gen_{0};
  std::atomic<size_t> next_{0}, done_{0};
  std::atomic<bool> stop_{false};
  std::atomic<const std::function<void(size_t, size_t)>*> fn_{nullptr};
  std::atomic<size_t> n_{0};
  std::atomic<uint64_t> runs_{0}, helped_{0};
  const size_t pieces_;
};

}  // namespace hpcai::io
