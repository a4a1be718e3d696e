// A run's attempts against the real cluster, through the slurm/ API that
// `hpcai resume` uses: a run that ends checkpointed (exit 75, PREEMPTED) gets
// a second attempt; run.json keeps both outcomes; `hpcai logs --list` shows
// each start with its exit; a live run refuses a new attempt.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "hpcai/base/fs.h"
#include "hpcai/slurm/runs.h"

namespace hpcai::slurm {
namespace {

std::string SourceDir() {
  const char* s = std::getenv("HPCAI_SOURCE_DIR");
  return s && *s ? s : fs::Dirname(fs::Dirname(fs::Dirname(__FILE__)));
}

std::string TempDir() {
  const char* t = std::getenv("HPCAI_TEST_TMP");
  std::string root = t && *t ? t : "/tmp";
  (void)fs::MakeDirs(root);
  std::string tmpl = root + "/attempts-XXXXXX";
  return ::mkdtemp(tmpl.data()) ? tmpl : "";
}

ResolvedSpec TinySpec(const std::string& root, const std::string& exit_code, const std::string& sleep) {
  ResolvedSpec s;
  s.name = "attempts";
  s.runs_root = root + "/runs";
  s.train_binary = SourceDir() + "/tests/integration/tiny_train.sh";
  s.resources.nodes = 1;
  s.resources.tasks_per_node = 1;
  s.resources.mem = "50M";
  s.resources.time = "00:05:00";
  s.preemption.lead_seconds = 30;
  s.environment.env = {{"TINY_EXIT", exit_code}, {"TINY_SLEEP", sleep}};
  return s;
}

RunStatus WaitFinal(const IndexEntry& e, int seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  RunStatus s = CollectStatus({e}).runs[0];
  while (s.live && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    s = CollectStatus({e}).runs[0];
  }
  return s;
}

std::string Capture(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

TEST(Attempts, CheckpointedRunGetsASecondAttempt) {
  ASSERT_NE(std::getenv("SLURM_CONF"), nullptr) << "needs the test cluster (ctest fixture 'slurm')";
  std::string root = TempDir();
  ASSERT_FALSE(root.empty());
  SubmitOptions opts;
  opts.home = root + "/home";
  opts.backend = "slurm";
  auto out = SubmitExperiment(TinySpec(root, "75", "0"), opts);
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  ASSERT_TRUE(out->submit_status.ok()) << out->submit_status.ToString();
  IndexEntry e{out->id, out->dir, "attempts", "run"};

  RunStatus first = WaitFinal(e, 90);
  ASSERT_EQ(first.state, "PREEMPTED") << first.reason;
  EXPECT_EQ(first.exit_code, 75);

  auto job2 = SubmitNewAttempt(e, TinySpec(root, "0", "3"));
  ASSERT_TRUE(job2.ok()) << job2.status().ToString();
  EXPECT_NE(*job2, out->job_id);
  // Still live: a third attempt is refused.
  auto refused = SubmitNewAttempt(e, TinySpec(root, "0", "0"));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("still"), std::string::npos);

  RunStatus second = WaitFinal(e, 90);
  EXPECT_EQ(second.state, "COMPLETED") << second.reason;
  EXPECT_EQ(second.job_id, *job2);
  auto rec = LoadRunRecord(e.dir);
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ(rec->attempts.size(), 2u);
  EXPECT_EQ(rec->attempts[0].state, "PREEMPTED");
  EXPECT_EQ(rec->attempts[0].exit, 75);
  EXPECT_EQ(rec->attempts[1].state, "COMPLETED");
  EXPECT_EQ(rec->attempts[1].exit, 0);

  const char* bin = std::getenv("HPCAI_BIN_DIR");
  ASSERT_NE(bin, nullptr);
  std::string list = Capture("HPCAI_HOME='" + opts.home + "' '" + bin + "/hpcai' logs " + e.id + " --list");
  EXPECT_NE(list.find("attempt 0  job " + out->job_id + " restart 0  exit 75 (checkpointed)"), std::string::npos)
      << list;
  EXPECT_NE(list.find("attempt 1  job " + *job2 + " restart 0  exit 0 (completed)"), std::string::npos) << list;
  (void)fs::RemoveAll(root);
}

}  // namespace
}  // namespace hpcai::slurm
