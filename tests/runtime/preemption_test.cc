#include "hpcai/runtime/preemption.h"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>  // mkdtemp

#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/io/rundir.h"

namespace hpcai::runtime {
namespace {

// The environment of restart `restart` of Slurm job `job_id`.
RankEnvironment Attempt(const char* job_id, int restart) {
  RankEnvironment env;
  env.job_id = job_id;
  env.restart = restart;
  return env;
}

TEST(Requeue, RequestsRequeueOfArrayTaskByItsId) {
  PreemptionSpec p;
  RankEnvironment env = Attempt("100_3", 1);
  auto r = DecideRequeue(p, env, SIGUSR1);
  EXPECT_TRUE(r.requeue);
  EXPECT_EQ(r.message, "requeue requested for job 100_3 (restart 2 of at most 5)");
  EXPECT_EQ(r.reason, "requeue requested (restart 2 of 5)");
}

TEST(Requeue, StopByTermIsNotRequeuedUnlessTermIsThePreemptionSignal) {
  PreemptionSpec p;  // signal USR1
  RankEnvironment env = Attempt("9", 0);
  auto r = DecideRequeue(p, env, SIGTERM);
  EXPECT_FALSE(r.requeue);
  EXPECT_EQ(r.reason, "stopped by SIGTERM");
  EXPECT_NE(r.message.find("only preemption.signal SIGUSR1 requeues"), std::string::npos) << r.message;
  EXPECT_TRUE(DecideRequeue(p, env, SIGUSR1).requeue);
  EXPECT_TRUE(DecideRequeue(p, env, -1).requeue);  // a test's step limit, no signal
  p.signal = "TERM";
  EXPECT_TRUE(DecideRequeue(p, env, SIGTERM).requeue);
}

TEST(Requeue, LastAllowedRestartIsStillRequested) {
  PreemptionSpec p;
  p.max_restarts = 2;
  RankEnvironment env = Attempt("7", 1);
  auto r = DecideRequeue(p, env, SIGUSR1);
  EXPECT_TRUE(r.requeue);
  EXPECT_EQ(r.message, "requeue requested for job 7 (restart 2 of at most 2)");
}

TEST(Requeue, RespectsMaxRestartsAndSettings) {
  PreemptionSpec p;
  p.max_restarts = 2;
  RankEnvironment env = Attempt("7", 2);
  auto r = DecideRequeue(p, env, SIGUSR1);
  EXPECT_FALSE(r.requeue);
  EXPECT_EQ(r.message, "not requeued: preemption.max_restarts (2) reached (this is restart 2)");
  EXPECT_EQ(r.reason, "max_restarts (2) reached");

  p.max_restarts = 0;
  env.restart = 0;
  r = DecideRequeue(p, env, SIGUSR1);
  EXPECT_FALSE(r.requeue);
  EXPECT_EQ(r.reason, "max_restarts (0) reached");

  p.max_restarts = 5;
  p.requeue = false;
  r = DecideRequeue(p, env, SIGUSR1);
  EXPECT_FALSE(r.requeue);
  EXPECT_NE(r.message.find("requeue is false"), std::string::npos);
  EXPECT_EQ(r.reason, "preemption.requeue is false");

  p.requeue = true;
  env.job_id = "";
  r = DecideRequeue(p, env, SIGUSR1);
  EXPECT_FALSE(r.requeue);
  EXPECT_NE(r.message.find("no SLURM_JOB_ID"), std::string::npos);
  EXPECT_EQ(r.reason, "not under Slurm");
}

TEST(Requeue, RequestFileIsWhereTheJobScriptLooks) {
  char tmpl[] = "/tmp/hpcai-requeue-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  PreemptionSpec p;
  p.max_restarts = 3;
  RankEnvironment env = Attempt("100_3", 1);
  ASSERT_TRUE(WriteRequeueRequest(dir, p, env, 420, 10).ok());
  // job.sbatch tests "$HPCAI_RUN_DIR/logs/requeue-$HPCAI_JOB_ID-$HPCAI_RESTART.json".
  const std::string path = dir + "/logs/requeue-100_3-1.json";
  EXPECT_EQ(io::RunPaths{dir}.requeue_request("100_3", 1), path);
  auto text = fs::ReadFile(path);
  ASSERT_TRUE(text.ok()) << text.status().ToString();
  auto j = Json::Parse(*text);
  ASSERT_TRUE(j.ok()) << *text;
  EXPECT_EQ(j->get("job_id").as_string(), "100_3");
  EXPECT_EQ(j->get("restart").as_int(), 1);
  EXPECT_EQ(j->get("next_restart").as_int(), 2);
  EXPECT_EQ(j->get("max_restarts").as_int(), 3);
  EXPECT_EQ(j->get("step").as_int(), 420);
  EXPECT_EQ(j->get("signal").as_int(), 10);
  EXPECT_TRUE(fs::RemoveAll(dir).ok());
}

TEST(Requeue, RequestWriteFailureIsReported) {
  PreemptionSpec p;
  RankEnvironment env = Attempt("9", 0);
  Status st = WriteRequeueRequest("/proc/hpcai-no-such-dir", p, env, 1, 10);
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace hpcai::runtime
