// `hpcai logs RUN --rank N` helpers: the run's world size from its spec.yaml,
// the rank range check, and which ranks have a log for one start.
#include "hpcai/slurm/rank_logs.h"

#include <gtest/gtest.h>

#include "hpcai/base/fs.h"
#include "hpcai/configs/spec.h"
#include "slurm/slurm_test_util.h"

namespace hpcai::slurm {
namespace {

TEST(RankLogsTest, WorldSizeComesFromTheRunsSpec) {
  std::string dir = testing::MakeTempDir("ranklogs-world");
  ResolvedSpec spec = testing::SmallSpec("ranks");
  spec.resources.nodes = 2;
  spec.resources.tasks_per_node = 4;
  ASSERT_TRUE(fs::AtomicWriteFile(fs::Join(dir, "spec.yaml"), CanonicalYaml(spec)).ok());
  auto w = RunWorldSize(dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, 8);
}

TEST(RankLogsTest, WorldSizeOfAGpuSpecLoadsInACpuBuild) {
  std::string dir = testing::MakeTempDir("ranklogs-gpu");
  ResolvedSpec spec = testing::SmallSpec("gpus");
  spec.resources.gpus_per_node = 2;
  spec.resources.tasks_per_node = 2;
  ASSERT_TRUE(fs::AtomicWriteFile(fs::Join(dir, "spec.yaml"), CanonicalYaml(spec)).ok());
  auto w = RunWorldSize(dir);
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(*w, 2);
}

TEST(RankLogsTest, MissingOrBrokenSpecIsAnError) {
  std::string dir = testing::MakeTempDir("ranklogs-nospec");
  auto w = RunWorldSize(dir);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kNotFound);
  EXPECT_NE(w.status().message().find("spec.yaml"), std::string::npos);
  ASSERT_TRUE(fs::AtomicWriteFile(fs::Join(dir, "spec.yaml"), "resources: [not, a, map\n").ok());
  w = RunWorldSize(dir);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), Code::kCorrupt);
}

TEST(RankLogsTest, RankOutOfRangeIsExit2AndNamesTheRange) {
  EXPECT_TRUE(CheckRank("r", 0, 2).ok());
  EXPECT_TRUE(CheckRank("r", 1, 2).ok());
  Status s = CheckRank("smoke-1", 2, 2);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(ExitCodeFor(s), exit_code::kSpecError);
  EXPECT_NE(s.message().find("--rank 2"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("has 2 ranks (0..1)"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("smoke-1"), std::string::npos) << s.message();
  s = CheckRank("one", -1, 1);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("has 1 rank (0)"), std::string::npos) << s.message();
}

TEST(RankLogsTest, PathIsTheOneHpcaiTrainWrites) {
  EXPECT_EQ(RankLogPath("/runs/a", 3, "1234_2", 1), "/runs/a/logs/rank-3-1234_2-1.log");
  EXPECT_EQ(RankLogPath("/runs/a", 0, "local-77", 0), "/runs/a/logs/rank-0-local-77-0.log");
}

TEST(RankLogsTest, RanksWithLogsMatchesOnlyThatStart) {
  std::string dir = testing::MakeTempDir("ranklogs-list");
  ASSERT_TRUE(fs::MakeDirs(fs::Join(dir, "logs")).ok());
  for (const char* n : {"rank-0-12-0.log", "rank-1-12-0.log", "rank-10-12-0.log",  // job 12 restart 0
                        "rank-2-12-1.log",                                        // another restart
                        "rank-3-local-12-0.log", "rank-4-112-0.log",              // other jobs ending in 12
                        "rank-x-12-0.log", "rank--12-0.log", "slurm-12-0.out"})    // not rank logs
    ASSERT_TRUE(fs::AtomicWriteFile(fs::Join(fs::Join(dir, "logs"), n), "x\n").ok());
  EXPECT_EQ(RanksWithLogs(dir, "12", 0), (std::vector<int>{0, 1, 10}));
  EXPECT_EQ(RanksWithLogs(dir, "12", 1), (std::vector<int>{2}));
  EXPECT_EQ(RanksWithLogs(dir, "local-12", 0), (std::vector<int>{3}));
  EXPECT_TRUE(RanksWithLogs(dir, "13", 0).empty());
  EXPECT_TRUE(RanksWithLogs(fs::Join(dir, "nope"), "12", 0).empty());
}

}  // namespace
}  // namespace hpcai::slurm
