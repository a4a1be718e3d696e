// Per-rank log files of hpcai-train: the name from the job's environment, and
// the stdio tee (checked in a forked child, since it replaces the process's
// stdout/stderr: the job log must get exactly what it got before, the rank
// file the same lines in order, nothing lost at exit or abort).
#include "hpcai/runtime/rank_log.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include "hpcai/base/fs.h"

namespace hpcai::runtime {
namespace {

std::string TempDir(const std::string& tag) {
  const char* base = std::getenv("HPCAI_TEST_TMP");
  std::string root = base && *base ? base : "/tmp";
  (void)fs::MakeDirs(root);
  std::string templ = root + "/" + tag + ".XXXXXX";
  char* d = mkdtemp(templ.data());
  return d ? std::string(d) : root;
}

TEST(RankLogNameTest, FromTheJobsEnvironment) {
  RankLogName n = RankLogNameFromEnv("1234", "2");
  EXPECT_EQ(n.job_id, "1234");
  EXPECT_EQ(n.restart, 2);
  n = RankLogNameFromEnv("77_3", "0");
  EXPECT_EQ(n.job_id, "77_3");
  n = RankLogNameFromEnv("local-999", nullptr);
  EXPECT_EQ(n.job_id, "local-999");
  EXPECT_EQ(n.restart, 0);
}

TEST(RankLogNameTest, OutsideAJobAndOddValues) {
  RankLogName n = RankLogNameFromEnv(nullptr, nullptr);
  EXPECT_EQ(n.job_id, "nojob");
  EXPECT_EQ(n.restart, 0);
  EXPECT_EQ(RankLogNameFromEnv("", "").job_id, "nojob");
  EXPECT_EQ(RankLogNameFromEnv("a/../b c", "1").job_id, "a_.._b_c");  // names a file: no '/'
  EXPECT_EQ(RankLogNameFromEnv("..", "1").job_id, "nojob");
  EXPECT_EQ(RankLogNameFromEnv("1", "-3").restart, 0);
  EXPECT_EQ(RankLogNameFromEnv("1", "3x").restart, 0);
  EXPECT_EQ(RankLogNameFromEnv("1", "99999999999").restart, 0);
}

struct ChildResult {
  int status = -1;
  std::string out, err;
};

// Runs `body` in a child whose fd 1 and fd 2 are files (like the job script's
// redirection), returns what reached them.
ChildResult RunChild(const std::string& dir, const std::function<void()>& body) {
  const std::string out = fs::Join(dir, "job.out"), err = fs::Join(dir, "job.err");
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = fork();
  if (pid == 0) {
    int o = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int e = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o < 0 || e < 0) _exit(90);
    dup2(o, 1);
    dup2(e, 2);
    body();
    std::exit(0);
  }
  ChildResult r;
  waitpid(pid, &r.status, 0);
  auto o = fs::ReadFile(out);
  auto e = fs::ReadFile(err);
  r.out = o.ok() ? *o : "";
  r.err = e.ok() ? *e : "";
  return r;
}

TEST(RankLogTeeTest, JobLogUnchangedAndRankFileGetsBothStreamsInOrder) {
  std::string dir = TempDir("ranklog-tee");
  std::string path = fs::Join(dir, "run/logs/rank-1-42-0.log");  // logs/ does not exist yet
  ASSERT_TRUE(fs::MakeDirs(fs::Join(dir, "run")).ok());
  ChildResult r = RunChild(dir, [&] {
    std::printf("before the tee\n");  // buffered: must stay in the job log only
    Status st = TeeStdioToFile(path, "hpcai-train rank 1 of 2 on host");
    if (!st.ok()) _exit(91);
    std::printf("out 1\n");
    std::fprintf(stderr, "err 1\n");
    std::printf("out 2 ");
    std::printf("continued\n");
    std::printf("no newline at exit");  // exit() must flush it into both
  });
  ASSERT_TRUE(WIFEXITED(r.status)) << r.status;
  ASSERT_EQ(WEXITSTATUS(r.status), 0);
  EXPECT_EQ(r.out, "before the tee\nout 1\nout 2 continued\nno newline at exit");
  EXPECT_EQ(r.err, "err 1\n");
  auto file = fs::ReadFile(path);
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ(*file, "hpcai-train rank 1 of 2 on host\nout 1\nerr 1\nout 2 continued\nno newline at exit");
}

TEST(RankLogTeeTest, AppendsAcrossProcessesAndKeepsLinesOnAbort) {
  std::string dir = TempDir("ranklog-abort");
  std::string path = fs::Join(dir, "logs/rank-0-nojob-0.log");
  ChildResult first = RunChild(dir, [&] {
    if (!TeeStdioToFile(path, "start 1").ok()) _exit(91);
    std::printf("line of the first process\n");
  });
  ASSERT_TRUE(WIFEXITED(first.status) && WEXITSTATUS(first.status) == 0);
  ChildResult second = RunChild(dir, [&] {
    if (!TeeStdioToFile(path, "start 2").ok()) _exit(91);
    std::printf("complete line before abort\n");
    std::fprintf(stderr, "fatal: out of memory\n");
    std::abort();
  });
  ASSERT_TRUE(WIFSIGNALED(second.status));
  EXPECT_EQ(second.out, "complete line before abort\n");
  EXPECT_EQ(second.err, "fatal: out of memory\n");
  auto file = fs::ReadFile(path);
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*file,
            "start 1\nline of the first process\n"
            "start 2\ncomplete line before abort\nfatal: out of memory\n");
}

TEST(RankLogTeeTest, UnopenableFileIsAnErrorAndLeavesStdioAlone) {
  std::string dir = TempDir("ranklog-fail");
  ASSERT_TRUE(fs::AtomicWriteFile(fs::Join(dir, "logs"), "a file where the directory should be\n").ok());
  ChildResult r = RunChild(dir, [&] {
    Status st = TeeStdioToFile(fs::Join(dir, "logs/rank-0-1-0.log"), "start");
    std::printf("tee %s\n", st.ok() ? "ok" : "failed");
    std::fprintf(stderr, "%s\n", st.message().c_str());
  });
  ASSERT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
  EXPECT_EQ(r.out, "tee failed\n");
  EXPECT_NE(r.err.find("logs"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace hpcai::runtime
