// The submission's durability helpers (slurm/src/durable.h): visible writes,
// write plans and the fsync barrier, inline and on their own thread.  What
// they promise that a test can observe: every path is visited in order (the
// first failure is the one reported, across rounds of descriptors), files
// are whole under their final names, a failed write stops the plan, and the
// background form reports the same results.
#include <gtest/gtest.h>

#include <sched.h>
#include <sys/stat.h>
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

// /proc/self/task/<tid>/<file> of every thread but the main one.
std::vector<std::string> OtherThreads(const char* file) {
  std::vector<std::string> out;
  const std::string self = std::to_string(::getpid());
  auto tasks = fs::ListDir("/proc/self/task");
  if (!tasks.ok()) return out;
  for (const std::string& tid : *tasks) {
    if (tid == self) continue;
    auto text = fs::ReadFile("/proc/self/task/" + tid + "/" + file, 1 << 14);
    if (text.ok()) out.push_back(*text);
  }
  return out;
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

// A plan with only syncs: the background form reports like the inline one.
TEST_F(DurableTest, BackgroundWriterReportsBarrierFailures) {
  WritePlan good;
  good.sync = MakeFiles(3);
  BackgroundWriter ok(good);
  EXPECT_TRUE(ok.WaitWritten().ok());
  EXPECT_TRUE(ok.Wait().ok());
  EXPECT_TRUE(ok.Wait().ok()) << "Wait() is idempotent";

  WritePlan bad = good;
  bad.sync[1] = Path("gone");
  BackgroundWriter w(bad);
  EXPECT_TRUE(w.WaitWritten().ok()) << "nothing to write";
  Status st = w.Wait();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("gone"), std::string::npos) << st.message();
  EXPECT_EQ(w.Wait().message(), st.message());
}

// Directories first (an existing one is fine), then the files in order, each
// whole under its final name, no temp file left; then the syncs.
TEST_F(DurableTest, WritePlanCreatesDirectoriesThenFilesInOrder) {
  WritePlan plan;
  plan.dirs = {Path("run"), Path("run/logs"), Path("run")};
  plan.AddFile(Path("run/spec.yaml"), "spec\n");
  plan.AddFile(Path("run/run.json"), "{}\n");
  plan.AddFile(Path("run/run.json"), "{\"second\": true}\n");  // replaces the first
  plan.sync = {Path("run/spec.yaml"), Path("run/run.json"), Path("run")};
  BackgroundWriter w(plan);
  ASSERT_TRUE(w.WaitWritten().ok());
  EXPECT_TRUE(fs::IsDir(Path("run/logs")));
  EXPECT_EQ(*fs::ReadFile(Path("run/spec.yaml"), 1 << 10), "spec\n");
  EXPECT_EQ(*fs::ReadFile(Path("run/run.json"), 1 << 10), "{\"second\": true}\n");
  EXPECT_TRUE(w.Wait().ok());
  EXPECT_EQ(fs::ListDir(Path("run"))->size(), 3u) << "a temp file was left behind";
  EXPECT_EQ(ExecuteWrites(plan).ok(), true) << "carrying a plan out again replaces the files";
}

// The first failed write stops the plan: later files are not written, the
// failure is what WaitWritten and Wait report, and nothing is synced.
TEST_F(DurableTest, WritePlanStopsAtTheFirstFailure) {
  WritePlan plan;
  plan.dirs = {Path("run")};
  plan.AddFile(Path("run/first"), "1");
  plan.AddFile(Path("no-such-dir/second"), "2");
  plan.AddFile(Path("run/third"), "3");
  plan.sync = {Path("missing-but-never-synced")};
  BackgroundWriter w(plan);
  Status st = w.WaitWritten();
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("no-such-dir/second"), std::string::npos) << st.message();
  EXPECT_EQ(w.Wait().message(), st.message()) << "Wait() reports the write failure, not a sync one";
  EXPECT_EQ(OtherThreads("stat").size(), 0u) << "the writer thread was not joined after a failed write";
  EXPECT_TRUE(fs::Exists(Path("run/first")));
  EXPECT_FALSE(fs::Exists(Path("run/third")));

  WritePlan blocked;  // a directory where a file is in the way
  ASSERT_TRUE(WriteVisible(Path("file"), "x").ok());
  blocked.dirs = {Path("file/logs")};
  EXPECT_FALSE(ExecuteWrites(blocked).ok());
}

// A spare temp file is created last, empty; the later WriteVisible of its
// path writes into that very inode (nothing allocated then) and leaves no
// temp file behind.
TEST_F(DurableTest, SpareTempIsReusedByTheNextVisibleWrite) {
  WritePlan plan;
  plan.AddFile(Path("run.json"), "{\"state\": \"SUBMITTING\"}\n");
  plan.AddSpareTemp(Path("run.json"));
  ASSERT_EQ(plan.spares.size(), 1u);
  ASSERT_TRUE(ExecuteWrites(plan).ok());
  struct stat spare {};
  ASSERT_EQ(::stat(plan.spares[0].c_str(), &spare), 0) << "spare not created";
  EXPECT_EQ(spare.st_size, 0);
  ASSERT_TRUE(WriteVisible(Path("run.json"), "{\"state\": \"PENDING\"}\n").ok());
  struct stat now {};
  ASSERT_EQ(::stat(Path("run.json").c_str(), &now), 0);
  EXPECT_EQ(now.st_ino, spare.st_ino) << "the spare's inode was not reused";
  EXPECT_EQ(*fs::ReadFile(Path("run.json"), 1 << 10), "{\"state\": \"PENDING\"}\n");
  EXPECT_FALSE(fs::Exists(plan.spares[0]));
}

TEST_F(DurableTest, BackgroundWriterJoinsWhenDestroyedUnwaited) {
  // An early return in submission destroys the writer without Wait(): the
  // destructor must join (a thread left running would read a freed plan).
  // 300 fsyncs keep the thread busy for milliseconds, so a destructor that
  // did not wait would leave it visible in /proc/self/task.
  auto threads = [] { return fs::ListDir("/proc/self/task")->size(); };
  const size_t before = threads();
  WritePlan plan;
  plan.sync = MakeFiles(300);
  {
    BackgroundWriter w(plan);
  }
  EXPECT_EQ(threads(), before);
}

// The writer thread is background work: SCHED_BATCH (3), so it never
// preempts the submitting thread when it wakes.  Seen from /proc while it
// works through 500 fsyncs (its first instants, before it switches, are
// SCHED_OTHER).
TEST_F(DurableTest, BackgroundWriterThreadRunsAsBatch) {
  WritePlan plan;
  plan.sync = MakeFiles(500);
  int policy = -1;
  {
    BackgroundWriter b(plan);
    for (int tries = 0; tries < 2000 && policy != SCHED_BATCH; ++tries) {
      for (const std::string& stat : OtherThreads("stat")) {
        // Fields after the command name (in parentheses): state is field 3,
        // policy field 41.
        std::istringstream in(stat.substr(stat.rfind(')') + 2));
        std::string field;
        for (int i = 3; i <= 41 && in >> field; ++i) {
          if (i == 41 && std::stoi(field) == SCHED_BATCH) policy = SCHED_BATCH;
        }
      }
    }
    EXPECT_TRUE(b.Wait().ok());
  }
  EXPECT_EQ(policy, SCHED_BATCH) << "writer thread not seen as SCHED_BATCH";
  // The creating thread is batch only while it creates the writer thread.
  EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
}

// Placement: the writer starts on another CPU than its creator's, then may
// use every CPU of the process again; the creator's own CPUs never change.
// With a single CPU allowed there is no other one, and the work is the same.
TEST_F(DurableTest, BackgroundWriterKeepsTheProcessCpus) {
  cpu_set_t mine;
  ASSERT_EQ(::sched_getaffinity(0, sizeof mine, &mine), 0);
  auto allowed_list = [](const std::string& status) {
    size_t at = status.find("Cpus_allowed_list:");
    return at == std::string::npos ? std::string() : status.substr(at, status.find('\n', at) - at);
  };
  const std::string want = allowed_list(*fs::ReadFile("/proc/self/status", 1 << 14));
  WritePlan plan;
  plan.sync = MakeFiles(300);
  std::string seen;
  {
    BackgroundWriter w(plan);
    // Before any Wait (which would widen a thread that has not started).
    for (int tries = 0; tries < 2000 && seen != want; ++tries) {
      for (const std::string& status : OtherThreads("status")) seen = allowed_list(status);
    }
    EXPECT_TRUE(w.Wait().ok());
  }
  EXPECT_EQ(seen, want) << "the writer thread's CPUs";
  cpu_set_t after;
  ASSERT_EQ(::sched_getaffinity(0, sizeof after, &after), 0);
  EXPECT_TRUE(CPU_EQUAL(&mine, &after)) << "the creating thread's CPUs changed";

  // One CPU only.
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(::sched_getcpu(), &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
  WritePlan small;
  small.AddFile(Path("single"), "1");
  small.sync = {Path("single")};
  {
    BackgroundWriter w(small);
    EXPECT_TRUE(w.Wait().ok());
  }
  EXPECT_TRUE(fs::Exists(Path("single")));
  ASSERT_EQ(::sched_setaffinity(0, sizeof mine, &mine), 0);
}

}  // namespace
}  // namespace hpcai::slurm
