// How `hpcai status` derives a run's state: from the one batched query while
// Slurm knows the job, else from jobcomp, the job's exit record, or our own
// cancel record; final states are written back to run.json.  The Slurm
// backend here is a unit-test fake (the real one is in the integration tests).
#include <gtest/gtest.h>

#include <cstdlib>

#include "hpcai/base/fs.h"
#include "hpcai/slurm/runs.h"
#include "slurm/slurm_test_util.h"

namespace hpcai::slurm {
namespace {

class FakeSlurm : public Backend {
 public:
  std::string name() const override { return "slurm"; }
  std::string api() const override { return "fake"; }
  Result<SubmitResult> Submit(const SubmitRequest&) override { return Status::Internal("not used"); }
  Result<std::map<std::string, JobInfo>> Query(const std::vector<JobRef>& jobs) override {
    ++queries_;
    asked = jobs.size();
    if (!reachable) return Status::Unavailable("connect failure");
    std::map<std::string, JobInfo> out;
    for (const auto& j : jobs)
      if (known.count(j.job_id)) out[j.job_id] = known[j.job_id];
    return out;
  }
  Status Cancel(const JobRef&, const std::string&) override { return Status::OK(); }
  std::map<std::string, JobInfo> known;
  bool reachable = true;
  size_t asked = 0;
};

class StatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("status");
    // A slurm.conf that only names the jobcomp log (no daemon is contacted: the backend is fake).
    ASSERT_TRUE(fs::AtomicWriteFile(dir_ + "/slurm.conf", "JobCompType=jobcomp/filetxt\nJobCompLoc=" + dir_ +
                                                              "/jobcomp.log\n")
                    .ok());
    old_conf_ = std::getenv("SLURM_CONF") ? std::getenv("SLURM_CONF") : "";
    ::setenv("SLURM_CONF", (dir_ + "/slurm.conf").c_str(), 1);
  }
  void TearDown() override {
    if (old_conf_.empty()) ::unsetenv("SLURM_CONF");
    else ::setenv("SLURM_CONF", old_conf_.c_str(), 1);
    (void)fs::RemoveAll(dir_);
  }
  // A run with one Slurm attempt in `state`.
  IndexEntry MakeRun(const std::string& id, const std::string& job, const std::string& state) {
    std::string d = dir_ + "/" + id;
    EXPECT_TRUE(fs::MakeDirs(d + "/logs").ok());
    RunRecord r;
    r.run_id = id;
    r.name = "n";
    r.created = NowIso();
    r.backend = "slurm";
    Attempt a;
    a.job_id = job;
    a.backend = "slurm";
    a.state = state;
    a.job_dir = d;
    r.attempts.push_back(a);
    EXPECT_TRUE(SaveRunRecord(d, r).ok());
    return {id, d, "n", "run"};
  }
  void ExitFile(const IndexEntry& e, const std::string& job, int restart, int code) {
    ASSERT_TRUE(fs::AtomicWriteFile(e.dir + "/logs/exit-" + job + "-" + std::to_string(restart) + ".json",
                                    "{\"job_id\":\"" + job + "\",\"restart\":" + std::to_string(restart) +
                                        ",\"exit\":" + std::to_string(code) + ",\"finished_at\":\"x\"}\n")
                    .ok());
  }
  std::string dir_, old_conf_;
};

TEST_F(StatusTest, LiveStateFromOneQuery) {
  FakeSlurm slurm;
  JobInfo p;
  p.state = "PENDING";
  p.reason = "Priority";
  p.restarts = 1;
  slurm.known["11"] = p;
  JobInfo r;
  r.state = "RUNNING";
  r.nodes = 2;
  r.elapsed_s = 30;
  r.time_limit_min = 10;
  slurm.known["12"] = r;
  auto res = CollectStatus({MakeRun("a", "11", "PENDING"), MakeRun("b", "12", "PENDING")}, &slurm);
  EXPECT_EQ(res.slurm_queries, 1);
  EXPECT_EQ(slurm.asked, 2u);
  EXPECT_EQ(res.runs[0].state, "PENDING");
  EXPECT_EQ(res.runs[0].reason, "Priority");
  EXPECT_EQ(res.runs[0].restarts, 1);
  EXPECT_TRUE(res.runs[0].live);
  EXPECT_EQ(res.runs[1].state, "RUNNING");
  EXPECT_EQ(res.runs[1].nodes, 2);
  EXPECT_EQ(res.runs[1].time_limit_min, 10);
}

TEST_F(StatusTest, FinalStatesAreCachedAndNeverQueriedAgain) {
  FakeSlurm slurm;
  JobInfo f;
  f.state = "FAILED";
  f.exit_code = 3;
  slurm.known["13"] = f;
  IndexEntry e = MakeRun("c", "13", "RUNNING");
  auto res = CollectStatus({e}, &slurm);
  EXPECT_EQ(res.runs[0].state, "FAILED");
  EXPECT_EQ(res.runs[0].exit_code, 3);
  EXPECT_FALSE(res.runs[0].live);
  auto rec = LoadRunRecord(e.dir);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->attempts.back().state, "FAILED");
  EXPECT_EQ(rec->attempts.back().exit, 3);
  EXPECT_FALSE(rec->attempts.back().ended.empty());
  auto again = CollectStatus({e}, &slurm);
  EXPECT_EQ(again.slurm_queries, 0);
  EXPECT_EQ(again.runs[0].state, "FAILED");
}

TEST_F(StatusTest, CheckpointedExitIsPreempted) {
  FakeSlurm slurm;
  JobInfo f;
  f.state = "FAILED";
  f.exit_code = 75;
  slurm.known["14"] = f;
  auto res = CollectStatus({MakeRun("d", "14", "RUNNING")}, &slurm);
  EXPECT_EQ(res.runs[0].state, "PREEMPTED");
  EXPECT_NE(res.runs[0].reason.find("hpcai resume d"), std::string::npos);
}

TEST_F(StatusTest, ForgottenJobFromJobCompThenExitRecordThenCancel) {
  FakeSlurm slurm;  // knows nothing: MinJobAge passed
  ASSERT_TRUE(fs::AtomicWriteFile(dir_ + "/jobcomp.log",
                                  "JobId=21 UserId=root(0) Name=n JobState=TIMEOUT ExitCode=0:15\n"
                                  "JobId=7 UserId=root(0) Name=n JobState=COMPLETED ArrayJobId=20 ArrayTaskId=1 ExitCode=0:0\n")
                  .ok());
  IndexEntry timeout = MakeRun("e", "21", "RUNNING");
  IndexEntry task = MakeRun("f", "20_1", "PENDING");
  IndexEntry done = MakeRun("g", "22", "RUNNING");
  ExitFile(done, "22", 0, 75);
  ExitFile(done, "22", 1, 0);  // the highest restart decides
  IndexEntry failed = MakeRun("h", "23", "RUNNING");
  ExitFile(failed, "23", 0, 2);
  IndexEntry cancelled = MakeRun("i", "24", "PENDING");
  ASSERT_TRUE(UpdateRunRecord(cancelled.dir, [](RunRecord& r) { r.cancels.push_back({"t0", "24", ""}); }).ok());
  IndexEntry lost = MakeRun("j", "25", "RUNNING");

  auto res = CollectStatus({timeout, task, done, failed, cancelled, lost}, &slurm);
  EXPECT_EQ(res.slurm_queries, 1);
  EXPECT_EQ(res.runs[0].state, "TIMEOUT");
  EXPECT_EQ(res.runs[0].exit_code, 128 + 15);
  EXPECT_EQ(res.runs[1].state, "COMPLETED");
  EXPECT_EQ(res.runs[2].state, "COMPLETED");
  EXPECT_EQ(res.runs[2].restarts, 1);
  EXPECT_EQ(res.runs[3].state, "FAILED");
  EXPECT_EQ(res.runs[3].exit_code, 2);
  EXPECT_EQ(res.runs[4].state, "CANCELLED");
  EXPECT_NE(res.runs[4].reason.find("hpcai cancel"), std::string::npos);
  EXPECT_EQ(res.runs[5].state, "UNKNOWN");
  EXPECT_TRUE(res.runs[5].live);
  // UNKNOWN is not written back; the others are.
  EXPECT_EQ(LoadRunRecord(lost.dir)->attempts.back().state, "RUNNING");
  EXPECT_EQ(LoadRunRecord(failed.dir)->attempts.back().state, "FAILED");
}

TEST_F(StatusTest, UnreachableSlurmKeepsLastKnownAndWarns) {
  FakeSlurm slurm;
  slurm.reachable = false;
  IndexEntry e = MakeRun("k", "30", "RUNNING");
  auto res = CollectStatus({e}, &slurm);
  EXPECT_EQ(res.runs[0].state, "UNKNOWN");
  EXPECT_NE(res.runs[0].reason.find("last known state RUNNING"), std::string::npos);
  EXPECT_NE(res.warning.find("connect failure"), std::string::npos);
  EXPECT_EQ(LoadRunRecord(e.dir)->attempts.back().state, "RUNNING");
}

TEST_F(StatusTest, MissingAndUnreadableRunsAreReported) {
  FakeSlurm slurm;
  IndexEntry gone{"gone", dir_ + "/gone", "n", "run"};
  IndexEntry bad = MakeRun("bad", "1", "RUNNING");
  ASSERT_TRUE(fs::AtomicWriteFile(bad.dir + "/run.json", "{\"format\": 1").ok());
  auto res = CollectStatus({gone, bad}, &slurm);
  EXPECT_EQ(res.runs[0].state, "MISSING");
  EXPECT_TRUE(res.runs[0].missing);
  EXPECT_EQ(res.runs[1].state, "UNREADABLE");
  EXPECT_EQ(res.slurm_queries, 0);
}

}  // namespace
}  // namespace hpcai::slurm
