#include "hpcai/runtime/preemption.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace hpcai::runtime {

int RunCommand(const std::vector<std::string>& argv, std::string* output) {
  output->clear();
  if (argv.empty()) return -1;
  int fds[2];
  if (pipe(fds) != 0) {
    *output = std::string("pipe: ") + std::strerror(errno);
    return -1;
  }
  pid_t pid = fork();
  if (pid < 0) {
    *output = std::string("fork: ") + std::strerror(errno);
    close(fds[0]);
    close(fds[1]);
    return -1;
  }
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    std::fprintf(stderr, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(fds[1]);
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
    if (n > 0) output->append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

RequeueOutcome RequeueAfterPreemption(const PreemptionSpec& preemption, const RankEnvironment& env,
                                      const CommandRunner& run) {
  RequeueOutcome out;
  if (!preemption.requeue) {
    out.message = "not requeued (preemption.requeue is false)";
    out.reason = "preemption.requeue is false";
    return out;
  }
  if (env.job_id.empty()) {
    out.message = "not requeued (not running under Slurm: no SLURM_JOB_ID)";
    out.reason = "not under Slurm";
    return out;
  }
  if (env.restart >= preemption.max_restarts) {
    out.message = "not requeued: preemption.max_restarts (" + std::to_string(preemption.max_restarts) +
                  ") reached (this is restart " + std::to_string(env.restart) + ")";
    out.reason = "max_restarts (" + std::to_string(preemption.max_restarts) + ") reached";
    return out;
  }
  std::string output;
  const int rc = run({"scontrol", "requeue", env.job_id}, &output);
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  if (rc != 0) {
    out.message = "requeue of job " + env.job_id + " failed (scontrol exit " + std::to_string(rc) + ": " + output + ")";
    out.reason = "requeue failed (scontrol exit " + std::to_string(rc) + ")";
    return out;
  }
  out.requeued = true;
  out.reason = "requeued (restart " + std::to_string(env.restart + 1) + " of " +
               std::to_string(preemption.max_restarts) + ")";
  out.message = "requeued job " + env.job_id + " (restart " + std::to_string(env.restart + 1) + " of at most " +
                std::to_string(preemption.max_restarts) + ")";
  return out;
}

}  // namespace hpcai::runtime
