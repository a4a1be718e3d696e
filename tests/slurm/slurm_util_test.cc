// Error classification and retry policy, Slurm text formats (durations,
// slurm.conf, jobcomp/filetxt records), signal names.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "hpcai/base/fs.h"
// Internal header of slurm/ (tests/ is the include root).
#include "../slurm/src/slurm_util.h"
#include "slurm/slurm_test_util.h"

namespace hpcai::slurm {
namespace {

TEST(SlurmErrors, Classification) {
  EXPECT_EQ(ClassifySlurmError("Unable to contact slurm controller (connect failure)"), SlurmErrorKind::kUnreachable);
  EXPECT_EQ(ClassifySlurmError("Socket timed out on send/recv operation"), SlurmErrorKind::kTransient);
  EXPECT_EQ(ClassifySlurmError("Unable to create job record, try again"), SlurmErrorKind::kTransient);
  EXPECT_EQ(ClassifySlurmError("Invalid partition name specified"), SlurmErrorKind::kRefused);
  EXPECT_EQ(ClassifySlurmError("Requested node configuration is not available"), SlurmErrorKind::kRefused);
}

TEST(SlurmErrors, RefusalCarriesMessageAndHint) {
  Status s = SlurmRefusal("job submission", "Invalid partition name specified\n");
  EXPECT_EQ(s.code(), Code::kRefused);
  EXPECT_EQ(ExitCodeFor(s), 5);
  EXPECT_NE(s.message().find("refused by Slurm: Invalid partition name specified"), std::string::npos);
  EXPECT_NE(s.message().find("hint: list the partitions with `sinfo -s`"), std::string::npos);
  EXPECT_NE(SlurmRefusal("x", "Requested time limit is invalid (missing or exceeds some limit)").message().find("MaxTime"),
            std::string::npos);
}

struct FakeOp {
  std::vector<std::pair<Status, std::string>> replies;  // in order; the last repeats
  int calls = 0;
  Status operator()(std::string* msg) {
    auto& r = replies[std::min<size_t>(calls, replies.size() - 1)];
    ++calls;
    *msg = r.second;
    return r.first;
  }
};

TEST(Retry, TransientThenSuccessBacksOff) {
  FakeOp op{{{Status::Unavailable("x"), "Socket timed out on send/recv operation"},
             {Status::Refused("x"), "Unable to create job record, try again"},
             {Status::OK(), ""}}};
  std::vector<int64_t> sleeps;
  RetryPolicy p;
  p.attempts = 5;
  p.first_delay = std::chrono::milliseconds(100);
  Status s = RetryTransient(p, "submit", std::ref(op), [&](std::chrono::milliseconds d) { sleeps.push_back(d.count()); });
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(op.calls, 3);
  EXPECT_EQ(sleeps, (std::vector<int64_t>{100, 200}));
}

TEST(Retry, RefusalIsNotRetried) {
  FakeOp op{{{Status::Refused("x"), "Invalid partition name specified"}}};
  Status s = RetryTransient(RetryPolicy{}, "submit", std::ref(op), [](auto) {});
  EXPECT_EQ(op.calls, 1);
  EXPECT_EQ(s.code(), Code::kRefused);
}

TEST(Retry, UnreachableIsNotRetriedAgain) {
  FakeOp op{{{Status::Unavailable("x"), "Unable to contact slurm controller (connect failure)"}}};
  Status s = RetryTransient(RetryPolicy{}, "submit", std::ref(op), [](auto) {});
  EXPECT_EQ(op.calls, 1);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("never falls back"), std::string::npos);
}

TEST(Retry, PersistentTransientBecomesUnavailable) {
  FakeOp op{{{Status::Unavailable("x"), "Socket timed out on send/recv operation"}}};
  RetryPolicy p;
  p.attempts = 3;
  int sleeps = 0;
  Status s = RetryTransient(p, "query", std::ref(op), [&](auto) { ++sleeps; });
  EXPECT_EQ(op.calls, 3);
  EXPECT_EQ(sleeps, 2);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_NE(s.message().find("after 3 tries"), std::string::npos);
}

TEST(Retry, OtherErrorsPassThrough) {
  FakeOp op{{{Status::NotFound("command 'sbatch' not found in PATH"), ""}}};
  Status s = RetryTransient(RetryPolicy{}, "submit", std::ref(op), [](auto) {});
  EXPECT_EQ(op.calls, 1);
  EXPECT_EQ(s.code(), Code::kNotFound);
}

TEST(Retry, EnvironmentSetsAttempts) {
  ::setenv("HPCAI_SLURM_RETRIES", "7", 1);
  EXPECT_EQ(DefaultRetryPolicy().attempts, 7);
  ::setenv("HPCAI_SLURM_RETRIES", "0", 1);
  EXPECT_EQ(DefaultRetryPolicy().attempts, 4);
  ::unsetenv("HPCAI_SLURM_RETRIES");
}

TEST(SlurmText, Durations) {
  EXPECT_EQ(ParseSlurmDuration("0:03"), 3);
  EXPECT_EQ(ParseSlurmDuration("5:00"), 300);
  EXPECT_EQ(ParseSlurmDuration("1:02:03"), 3723);
  EXPECT_EQ(ParseSlurmDuration("2-01:00:00"), 2 * 86400 + 3600);
  EXPECT_EQ(ParseSlurmDuration("UNLIMITED"), -1);
  EXPECT_EQ(ParseSlurmDuration("N/A"), -1);
}

TEST(SlurmText, Signals) {
  EXPECT_EQ(ParseSignal("USR1"), SIGUSR1);
  EXPECT_EQ(ParseSignal("sigterm"), SIGTERM);
  EXPECT_EQ(ParseSignal("10"), 10);
  EXPECT_EQ(ParseSignal("NOPE"), 0);
  EXPECT_EQ(ParseSignal("99"), 0);
}

TEST(SlurmText, ConfAndJobComp) {
  std::string dir = testing::MakeTempDir("conf");
  ASSERT_TRUE(fs::AtomicWriteFile(dir + "/slurm.conf",
                                  "# comment\nJobCompType=jobcomp/filetxt\n jobcomploc = " + dir +
                                      "/jobcomp.log  # trailing\nClusterName=x\n")
                  .ok());
  EXPECT_EQ(SlurmConfValue(dir + "/slurm.conf", "JobCompLoc"), dir + "/jobcomp.log");
  EXPECT_EQ(SlurmConfValue(dir + "/slurm.conf", "JOBCOMPTYPE"), "jobcomp/filetxt");
  EXPECT_EQ(SlurmConfValue(dir + "/slurm.conf", "Missing"), "");
  ASSERT_TRUE(fs::AtomicWriteFile(
                  dir + "/jobcomp.log",
                  "JobId=5 UserId=root(0) Name=a JobState=PENDING ExitCode=0:0\n"
                  "JobId=5 UserId=root(0) Name=a JobState=CANCELLED ExitCode=0:15\n"
                  "JobId=7 UserId=root(0) Name=b JobState=COMPLETED ArrayJobId=6 ArrayTaskId=1 ExitCode=0:0\n"
                  "JobId=9 UserId=root(0) Name=c JobState=FAILED ExitCode=3:0\n")
                  .ok());
  auto recs = LoadJobComp(dir + "/jobcomp.log", {"5", "6_1", "8"});
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs["5"]["JobState"], "CANCELLED");  // the last record of a job wins
  EXPECT_EQ(recs["5"]["ExitCode"], "0:15");
  EXPECT_EQ(recs["6_1"]["JobState"], "COMPLETED");
  EXPECT_TRUE(LoadJobComp(dir + "/none.log", {"5"}).empty());
  (void)fs::RemoveAll(dir);
}

}  // namespace
}  // namespace hpcai::slurm
