// GatherPool: every piece runs exactly once, on the caller, helper threads,
// or a thread that offers help while a range is in progress.
#include "hpcai/io/gather_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

namespace hpcai::io {
namespace {

TEST(GatherPool, EveryIndexOnceWithAndWithoutHelperThreads) {
  for (int helpers : {0, 2}) {
    GatherPool pool(helpers);
    for (size_t n : {size_t{0}, size_t{1}, size_t{3}, pool.pieces() - 1, pool.pieces(), size_t{1000}}) {
      std::vector<std::atomic<int>> hits(n);
      std::function<void(size_t, size_t)> fn = [&](size_t lo, size_t hi) {
        for (size_t i = lo; i < hi; ++i) hits[i].fetch_add(1);
      };
      pool.Run(n, fn, /*wake_helpers=*/true);
      for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "helpers " << helpers << " n " << n << " i " << i;
    }
    EXPECT_EQ(pool.runs(), 6u);
  }
}

TEST(GatherPool, AnotherThreadHelpsOnlyWhileARangeIsInProgress) {
  GatherPool pool(0);
  EXPECT_FALSE(pool.Help()) << "nothing to help with before any Run";
  const size_t n = 64;
  std::vector<std::atomic<int>> hits(n);
  const auto runner = std::this_thread::get_id();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> helper_calls{0};
  std::function<void(size_t, size_t)> fn = [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; ++i) hits[i].fetch_add(1);
    // The running thread is slow, so the offered help finds pieces left.
    if (std::this_thread::get_id() == runner) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  std::thread helper([&] {
    while (!stop.load()) {
      if (pool.Help()) helper_calls.fetch_add(1);
    }
  });
  pool.Run(n, fn, /*wake_helpers=*/false);
  stop.store(true);
  helper.join();
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << i;
  EXPECT_GT(pool.helped(), 0u);
  EXPECT_LT(pool.helped(), pool.pieces()) << "the running thread ran at least its first piece";
  EXPECT_GE(helper_calls.load(), 1u);
  EXPECT_FALSE(pool.Help()) << "nothing to help with after Run returned";
}

}  // namespace
}  // namespace hpcai::io
