#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "hpcai/runtime/model.h"
#include "hpcai/runtime/trainer.h"

namespace hpcai::runtime {
namespace {

EnvLookup Env(std::map<std::string, std::string> m) {
  auto shared = std::make_shared<std::map<std::string, std::string>>(std::move(m));
  return [shared](const char* name) -> const char* {
    auto it = shared->find(name);
    return it == shared->end() ? nullptr : it->second.c_str();
  };
}

TEST(RankEnvironment, SlurmWinsOverSpecAndMpi) {
  ResolvedSpec spec;
  spec.resources.cpus_per_task = 4;
  auto r = ResolveRankEnvironment(spec, 3, 0,
                                  Env({{"SLURM_LOCALID", "1"}, {"OMPI_COMM_WORLD_LOCAL_RANK", "2"},
                                       {"SLURM_CPUS_PER_TASK", "2"}, {"SLURM_JOB_ID", "77"},
                                       {"SLURM_RESTART_COUNT", "3"}}));
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.local_rank_source, "SLURM_LOCALID");
  EXPECT_EQ(r.threads, 2);
  EXPECT_EQ(r.threads_source, "SLURM_CPUS_PER_TASK");
  EXPECT_EQ(r.job_id, "77");
  EXPECT_EQ(r.restart, 3);
}

TEST(RankEnvironment, FallbacksForPlainMpirun) {
  ResolvedSpec spec;
  spec.resources.cpus_per_task = 3;
  auto r = ResolveRankEnvironment(spec, 5, 0, Env({{"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                                                  {"SLURM_CPUS_PER_TASK", "abc"}}));
  EXPECT_EQ(r.local_rank, 1);
  EXPECT_EQ(r.local_rank_source, "OMPI_COMM_WORLD_LOCAL_RANK");
  EXPECT_EQ(r.threads, 3);  // invalid env value ignored
  EXPECT_EQ(r.threads_source, "resources.cpus_per_task");
  EXPECT_EQ(r.job_id, "");
  EXPECT_EQ(r.restart, 0);

  auto bare = ResolveRankEnvironment(spec, 5, 0, Env({}));
  EXPECT_EQ(bare.local_rank, 5);
  EXPECT_EQ(bare.local_rank_source, "MPI");

  auto forced = ResolveRankEnvironment(spec, 0, 7, Env({{"SLURM_CPUS_PER_TASK", "2"}}));
  EXPECT_EQ(forced.threads, 7);
  EXPECT_EQ(forced.threads_source, "--threads");
}

TEST(RankEnvironment, ArrayTaskJobId) {
  ResolvedSpec spec;
  auto r = ResolveRankEnvironment(spec, 0, 0, Env({{"SLURM_JOB_ID", "101"}, {"SLURM_ARRAY_JOB_ID", "100"},
                                                  {"SLURM_ARRAY_TASK_ID", "1"}}));
  EXPECT_EQ(r.job_id, "100_1");
}

TEST(ParseEvalEvery, Forms) {
  bool per_epoch = false;
  EXPECT_EQ(ParseEvalEvery("epoch", &per_epoch), 0);
  EXPECT_TRUE(per_epoch);
  EXPECT_EQ(ParseEvalEvery("500", &per_epoch), 500);
  EXPECT_FALSE(per_epoch);
  EXPECT_EQ(ParseEvalEvery("0", &per_epoch), 0);
  EXPECT_FALSE(per_epoch);
  EXPECT_EQ(ParseEvalEvery("5x", &per_epoch), -1);
  EXPECT_EQ(ParseEvalEvery("", &per_epoch), -1);
  EXPECT_EQ(ParseEvalEvery("-3", &per_epoch), -1);
}

}  // namespace
}  // namespace hpcai::runtime
