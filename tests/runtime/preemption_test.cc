#include "hpcai/runtime/preemption.h"

#include <gtest/gtest.h>

namespace hpcai::runtime {
namespace {

struct FakeScontrol {
  std::vector<std::vector<std::string>> calls;
  int rc = 0;
  std::string output;
  CommandRunner Runner() {
    return [this](const std::vector<std::string>& argv, std::string* out) {
      calls.push_back(argv);
      *out = output;
      return rc;
    };
  }
};

TEST(Requeue, RequeuesArrayTaskByItsId) {
  PreemptionSpec p;
  RankEnvironment env;
  env.job_id = "100_3";
  env.restart = 1;
  FakeScontrol f;
  auto r = RequeueAfterPreemption(p, env, f.Runner());
  EXPECT_TRUE(r.requeued);
  ASSERT_EQ(f.calls.size(), 1u);
  EXPECT_EQ(f.calls[0], (std::vector<std::string>{"scontrol", "requeue", "100_3"}));
  EXPECT_NE(r.message.find("restart 2 of at most 5"), std::string::npos) << r.message;
}

TEST(Requeue, RespectsMaxRestartsAndSettings) {
  PreemptionSpec p;
  p.max_restarts = 2;
  RankEnvironment env;
  env.job_id = "7";
  env.restart = 2;
  FakeScontrol f;
  auto r = RequeueAfterPreemption(p, env, f.Runner());
  EXPECT_FALSE(r.requeued);
  EXPECT_TRUE(f.calls.empty());
  EXPECT_NE(r.message.find("max_restarts (2) reached"), std::string::npos) << r.message;
  EXPECT_EQ(r.reason, "max_restarts (2) reached");

  p.requeue = false;
  env.restart = 0;
  r = RequeueAfterPreemption(p, env, f.Runner());
  EXPECT_FALSE(r.requeued);
  EXPECT_NE(r.message.find("requeue is false"), std::string::npos);
  EXPECT_EQ(r.reason, "preemption.requeue is false");

  p.requeue = true;
  env.job_id = "";
  r = RequeueAfterPreemption(p, env, f.Runner());
  EXPECT_FALSE(r.requeued);
  EXPECT_NE(r.message.find("no SLURM_JOB_ID"), std::string::npos);
  EXPECT_TRUE(f.calls.empty());
}

TEST(Requeue, ReportsScontrolFailure) {
  PreemptionSpec p;
  RankEnvironment env;
  env.job_id = "9";
  FakeScontrol f;
  f.rc = 1;
  f.output = "scontrol: error: Invalid job id specified\n";
  auto r = RequeueAfterPreemption(p, env, f.Runner());
  EXPECT_FALSE(r.requeued);
  EXPECT_NE(r.message.find("Invalid job id specified)"), std::string::npos) << r.message;
}

TEST(Requeue, RealRunnerCapturesOutputAndStatus) {
  std::string out;
  EXPECT_EQ(RunCommand({"sh", "-c", "echo hello; exit 3"}, &out), 3);
  EXPECT_EQ(out, "hello\n");
  EXPECT_EQ(RunCommand({"/nonexistent/binary"}, &out), 127);
  EXPECT_NE(out.find("cannot run"), std::string::npos);
}

}  // namespace
}  // namespace hpcai::runtime
