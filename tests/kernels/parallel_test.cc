// The thread pool: every task runs once per region, barriers order phases,
// ParallelFor covers the range exactly once.
#include "hpcai/kernels/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <vector>

namespace hpcai::kernels {
namespace {

TEST(ThreadPoolTest, RunCallsEveryTaskOnceWithTaskZeroOnTheCaller) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    EXPECT_EQ(pool.threads(), threads);
    for (int rep = 0; rep < 50; ++rep) {
      std::vector<std::atomic<int>> hits(threads);
      std::thread::id zero_id;
      pool.Run([&](int t) {
        hits[t].fetch_add(1);
        if (t == 0) zero_id = std::this_thread::get_id();
      });
      for (auto& h : hits) EXPECT_EQ(h.load(), 1);
      EXPECT_EQ(zero_id, std::this_thread::get_id());
    }
  }
}

TEST(ThreadPoolTest, BarrierSeparatesPhases) {
  ThreadPool pool(3);
  std::vector<int> phase1(3, 0);
  std::atomic<int> violations{0};
  for (int rep = 0; rep < 100; ++rep) {
    pool.Run([&](int t) {
      phase1[t] = rep + 1;
      pool.Barrier();
      for (int u = 0; u < 3; ++u) {
        if (phase1[u] != rep + 1) violations.fetch_add(1);
      }
      pool.Barrier();
    });
  }
  EXPECT_EQ(violations.load(), 0);
}

TEST(ThreadPoolTest, ParallelForCoversTheRangeOnce) {
  ThreadPool pool(2);
  std::vector<int> seen(1001, 0);
  pool.ParallelFor(1001, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) seen[i]++;
  });
  for (int v : seen) EXPECT_EQ(v, 1);
  int calls = 0;
  pool.ParallelFor(10, 100, [&](int64_t b, int64_t e) {  // below min_parallel: inline, one call
    EXPECT_EQ(b, 0);
    EXPECT_EQ(e, 10);
    ++calls;
  });
  EXPECT_EQ(calls, 1);
}

TEST(ThreadPoolTest, ResizeKeepsWorking) {
  ThreadPool pool(1);
  for (int threads : {2, 1, 3, 2}) {
    pool.Resize(threads);
    std::atomic<int> count{0};
    pool.Run([&](int) { count.fetch_add(1); });
    EXPECT_EQ(count.load(), threads);
  }
}

TEST(ShardRangeTest, ContiguousBalancedAndComplete) {
  for (int64_t n : {0, 1, 5, 256, 257}) {
    for (int shards : {1, 2, 3}) {
      int64_t prev_end = 0;
      for (int s = 0; s < shards; ++s) {
        int64_t b, e;
        ShardRange(n, shards, s, &b, &e);
        EXPECT_EQ(b, prev_end);
        EXPECT_LE(e - b, n / shards + 1);
        prev_end = e;
      }
      EXPECT_EQ(prev_end, n);
    }
  }
}

}  // namespace
}  // namespace hpcai::kernels
