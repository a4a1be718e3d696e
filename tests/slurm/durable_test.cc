// The submission's durability helpers (slurm/src/durable.h): visible writes
// and the fsync barrier, inline and on its own thread.  What the barrier
// promises that a test can observe: every path is visited in order (the
// first failure is the one reported, across rounds of descriptors), files
// and directories alike, and the background form reports the same result.
#include <gtest/gtest.h>

#include <sched.h>
#include <unistd.h>

#include <sstream>
#include <string>
#include <vector>

#include "../slurm/src/durable.h"
#include "hpcai/base/fs.h"
#include "slurm/slurm_test_util.h"

namespace hpcai::slurm {
namespace {

// prefix + number (appended: GCC 12 at -O3 warns falsely on `"x" + to_string(i)`).
std::string Numbered(const char* prefix, size_t i) {
  std::string s = prefix;
  s += std::to_string(i);
  return s;
}

class DurableTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::MakeTempDir("durable"); }
  std::string Path(const std::string& name) const { return fs::Join(dir_, name); }

  // `n` files f0..f(n-1) with content, plus the directory itself.
  std::vector<std::string> MakeFiles(int n) {
    std::vector<std::string> paths;
    for (int i = 0; i < n; ++i) {
      std::string p = Path(Numbered("f", static_cast<size_t>(i)));
      EXPECT_TRUE(WriteVisible(p, Numbered("content ", static_cast<size_t>(i))).ok());
      paths.push_back(p);
    }
    paths.push_back(dir_);
    return paths;
  }

  std::string dir_;
};

TEST_F(DurableTest, WriteVisibleReplacesWholeAndLeavesNoTemp) {
  ASSERT_TRUE(WriteVisible(Path("run.json"), "old\n").ok());
  ASSERT_TRUE(WriteVisible(Path("run.json"), "new content\n").ok());
  EXPECT_EQ(*fs::ReadFile(Path("run.json"), 1 << 10), "new content\n");
  auto names = fs::ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 1u) << "a temp file was left behind";
}

TEST_F(DurableTest, WriteVisibleIntoMissingDirectoryIsAnError) {
  Status st = WriteVisible(Path("no/such/dir/file"), "x");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no/such/dir"), std::string::npos) << st.message();
}

TEST_F(DurableTest, BarrierSyncsFilesAndDirectories) {
  std::vector<std::string> paths = MakeFiles(5);
  EXPECT_TRUE(DurableBarrier(paths).ok());
  EXPECT_TRUE(DurableBarrier({}).ok());
}

// 70 paths span three rounds of 32 descriptors: a missing path in each
// round is found, and the first one in order is the error returned.
TEST_F(DurableTest, BarrierVisitsEveryRoundAndReportsTheFirstFailure) {
  std::vector<std::string> paths = MakeFiles(69);
  ASSERT_EQ(paths.size(), 70u);
  for (size_t missing : {0u, 31u, 32u, 45u, 69u}) {
    std::vector<std::string> p = paths;
    p[missing] = Path(Numbered("missing-", missing));
    Status st = DurableBarrier(p);
    ASSERT_FALSE(st.ok()) << "missing path at " << missing << " not reported";
    EXPECT_NE(st.message().find(Numbered("missing-", missing)), std::string::npos) << st.message();
  }
  std::vector<std::string> two = paths;
  two[40] = Path("missing-late");
  two[33] = Path("missing-early");
  Status st = DurableBarrier(two);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("missing-early"), std::string::npos) << st.message();
}

TEST_F(DurableTest, BackgroundBarrierReportsLikeTheInlineOne) {
  std::vector<std::string> paths = MakeFiles(3);
  BackgroundBarrier ok(paths);
  EXPECT_TRUE(ok.Wait().ok());
  EXPECT_TRUE(ok.Wait().ok()) << "Wait() is idempotent";

  paths[1] = Path("gone");
  BackgroundBarrier bad(paths);
  Status st = bad.Wait();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("gone"), std::string::npos) << st.message();
  EXPECT_EQ(bad.Wait().message(), st.message());
}

TEST_F(DurableTest, BackgroundBarrierJoinsWhenDestroyedUnwaited) {
  // An early return in submission destroys the barrier without Wait(): the
  // destructor must join (a thread left running would read freed paths).
  // 300 fsyncs keep the thread busy for milliseconds, so a destructor that
  // did not wait would leave it visible in /proc/self/task.
  auto threads = [] { return fs::ListDir("/proc/self/task")->size(); };
  const size_t before = threads();
  std::vector<std::string> paths = MakeFiles(300);
  {
    BackgroundBarrier b(paths);
  }
  EXPECT_EQ(threads(), before);
}

// The barrier thread is background work: SCHED_BATCH (3), so it never
// preempts the submitting thread when it wakes.  Seen from /proc while it
// works through 500 fsyncs (its first instants, before it switches, are
// SCHED_OTHER).
TEST_F(DurableTest, BackgroundBarrierThreadRunsAsBatch) {
  std::vector<std::string> paths = MakeFiles(500);
  const std::string self = std::to_string(::getpid());
  int policy = -1;
  {
    BackgroundBarrier b(paths);
    for (int tries = 0; tries < 2000 && policy != SCHED_BATCH; ++tries) {
      auto tasks = fs::ListDir("/proc/self/task");
      if (!tasks.ok()) break;
      for (const std::string& tid : *tasks) {
        if (tid == self) continue;
        auto stat = fs::ReadFile("/proc/self/task/" + tid + "/stat", 1 << 12);
        if (!stat.ok()) continue;
        // Fields after the command name (in parentheses): state is field 3,
        // policy field 41.
        std::istringstream in(stat->substr(stat->rfind(')') + 2));
        std::string field;
        for (int i = 3; i <= 41 && in >> field; ++i) {
          if (i == 41 && std::stoi(field) == SCHED_BATCH) policy = SCHED_BATCH;
        }
      }
    }
    EXPECT_TRUE(b.Wait().ok());
  }
  EXPECT_EQ(policy, SCHED_BATCH) << "barrier thread not seen as SCHED_BATCH";
  // The creating thread is batch only while it creates the barrier thread.
  EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
}

}  // namespace
}  // namespace hpcai::slurm
