// The local backend: the same job script, run on this machine without Slurm.
// Each job is `bash job.sbatch` in its own session and process group
// (setsid), detached from hpcai; its pid is the job id ("local-<pid>").
// SLURM_* variables are removed so the script takes its mpirun path.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <map>
#include <thread>

#include "backends.h"
#include "hpcai/base/fs.h"
#include "local_process.h"
#include "slurm_util.h"

extern char** environ;

namespace hpcai::slurm {

Result<int64_t> LaunchDetached(const std::string& script_path, const std::string& cwd, const std::string& log_path,
                               const std::vector<std::string>& extra_env) {
  // Everything is prepared before fork: the child only calls async-signal-safe functions.
  std::vector<std::string> env_store;
  for (char** e = environ; e && *e; ++e) {
    if (std::strncmp(*e, "SLURM_", 6) == 0) continue;  // the script must not think it is in a Slurm job
    if (std::strncmp(*e, "HPCAI_ARRAY_TASK_ID=", 20) == 0) continue;
    env_store.emplace_back(*e);
  }
  for (const auto& x : extra_env) env_store.push_back(x);
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string bash = "/bin/bash", arg0 = "bash", script = script_path;
  char* argv[] = {arg0.data(), script.data(), nullptr};

  int pid_pipe[2], err_pipe[2];
  if (::pipe2(pid_pipe, O_CLOEXEC) != 0) return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    ::close(pid_pipe[0]);
    ::close(pid_pipe[1]);
    return Status::IOError(std::string("pipe: ") + std::strerror(errno));
  }
  pid_t mid = ::fork();
  if (mid < 0) return Status::IOError(std::string("fork: ") + std::strerror(errno));
  if (mid == 0) {
    // Double fork: the job is re-parented to init, so it never lingers as a
    // zombie of a long-running hpcai (e.g. `submit --follow`).
    pid_t g = ::fork();
    if (g == 0) {
      ::setsid();
      int e = 0;
      if (::chdir(cwd.c_str()) != 0) e = errno;
      int in = ::open("/dev/null", O_RDONLY);
      int out = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (in >= 0) ::dup2(in, 0);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      if (e == 0) {
        ::execve(bash.c_str(), argv, envp.data());
        e = errno;
      }
      (void)!::write(err_pipe[1], &e, sizeof e);
      ::_exit(127);
    }
    int64_t gp = g;
    (void)!::write(pid_pipe[1], &gp, sizeof gp);
    ::_exit(g > 0 ? 0 : 1);
  }
  ::close(pid_pipe[1]);
  ::close(err_pipe[1]);
  int st = 0;
  while (::waitpid(mid, &st, 0) < 0 && errno == EINTR) {
  }
  int64_t pid = -1;
  ssize_t n = ::read(pid_pipe[0], &pid, sizeof pid);
  ::close(pid_pipe[0]);
  int exec_errno = 0;
  ssize_t m = ::read(err_pipe[0], &exec_errno, sizeof exec_errno);
  ::close(err_pipe[0]);
  if (n != static_cast<ssize_t>(sizeof pid) || pid <= 0) return Status::IOError("could not start the local job (fork failed)");
  if (m == static_cast<ssize_t>(sizeof exec_errno))
    return Status::IOError("could not start 'bash " + script_path + "' in '" + cwd + "': " + std::strerror(exec_errno));
  return pid;
}

std::optional<LocalProcess> InspectProcess(int64_t pid) {
  if (pid <= 0) return std::nullopt;
  auto stat = fs::ReadFile("/proc/" + std::to_string(pid) + "/stat", 1 << 16);
  if (!stat.ok()) return std::nullopt;
  // "pid (comm) S ppid ..." : comm may contain spaces and ')', so parse after the last ')'.
  size_t close = stat->rfind(')');
  if (close == std::string::npos || close + 2 >= stat->size()) return std::nullopt;
  std::vector<std::string> f;
  size_t pos = close + 2;
  while (pos < stat->size()) {
    size_t sp = stat->find(' ', pos);
    f.push_back(stat->substr(pos, sp == std::string::npos ? std::string::npos : sp - pos));
    if (sp == std::string::npos) break;
    pos = sp + 1;
  }
  if (f.size() < 20) return std::nullopt;
  LocalProcess p;
  p.pid = pid;
  p.state = f[0].empty() ? '?' : f[0][0];
  if (p.state == 'Z' || p.state == 'X') return std::nullopt;
  p.ppid = std::atoll(f[1].c_str());
  p.pgid = std::atoll(f[2].c_str());
  double start_ticks = std::atof(f[19].c_str());
  auto up = fs::ReadFile("/proc/uptime", 4096);
  long hz = ::sysconf(_SC_CLK_TCK);
  if (up.ok() && hz > 0) p.elapsed_s = static_cast<int64_t>(std::atof(up->c_str()) - start_ticks / hz);
  auto cmd = fs::ReadFile("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
  if (cmd.ok()) {
    for (char& c : *cmd)
      if (c == '\0') c = ' ';
    p.cmdline = *cmd;
  }
  return p;
}

namespace {

// The process is ours when it is still the bash running this job's script
// (guards against a recycled pid).
std::optional<LocalProcess> OurJob(const JobRef& j) {
  auto p = InspectProcess(j.pid);
  if (!p) return std::nullopt;
  if (!j.job_dir.empty() && p->cmdline.find(fs::Join(j.job_dir, "job.sbatch")) == std::string::npos)
    return std::nullopt;
  return p;
}

class LocalBackend final : public Backend {
 public:
  std::string name() const override { return "local"; }
  std::string api() const override { return "process"; }

  Result<SubmitResult> Submit(const SubmitRequest& req) override {
    if (!req.job.array.empty())
      return Status::Internal("local sweeps are started by the sweep runner, not Backend::Submit");
    std::string logs = fs::Join(req.job.work_dir, "logs");
    HPCAI_RETURN_IF_ERROR(fs::MakeDirs(logs));
    HPCAI_ASSIGN_OR_RETURN(int64_t pid, LaunchDetached(req.script_path, req.job.work_dir,
                                                      fs::Join(logs, "local-launch.log"), {}));
    SubmitResult r;
    r.pid = pid;
    r.job_id = "local-" + std::to_string(pid);
    return r;
  }

  Result<std::map<std::string, JobInfo>> Query(const std::vector<JobRef>& jobs) override {
    std::map<std::string, JobInfo> out;
    for (const JobRef& j : jobs) {
      auto p = OurJob(j);
      if (!p) continue;
      JobInfo info;
      info.job_id = j.job_id;
      info.state = p->state == 'T' ? "SUSPENDED" : "RUNNING";
      info.nodes = 1;
      info.node_list = "localhost";
      info.elapsed_s = p->elapsed_s;
      out[j.job_id] = info;
    }
    return out;
  }

  Status Cancel(const JobRef& job, const std::string& signal) override {
    auto p = OurJob(job);
    if (!p) return Status::OK();  // already ended
    if (!signal.empty()) {
      int n = ParseSignal(signal);
      if (n == 0) return Status::InvalidArgument("unknown signal '" + signal + "' (e.g. USR1, TERM, INT)");
      if (::kill(static_cast<pid_t>(job.pid), n) != 0 && errno != ESRCH)
        return Status::IOError("kill " + std::to_string(job.pid) + ": " + std::strerror(errno));
      return Status::OK();
    }
    return TerminateJob(job.pid, std::chrono::seconds(10));
  }
};

}  // namespace

bool GroupAlive(int64_t pgid) {
  if (::killpg(static_cast<pid_t>(pgid), 0) != 0 && errno == ESRCH) return false;
  // killpg also succeeds on zombies (an init that does not reap keeps them):
  // look for a member that still runs.
  auto entries = fs::ListDir("/proc");
  if (!entries.ok()) return true;
  for (const std::string& e : *entries) {
    if (e.empty() || e.find_first_not_of("0123456789") != std::string::npos) continue;
    auto p = InspectProcess(std::atoll(e.c_str()));
    if (p && p->pgid == pgid) return true;
  }
  return false;
}

std::vector<int64_t> Descendants(int64_t pid) {
  std::map<int64_t, std::vector<int64_t>> children;
  auto entries = fs::ListDir("/proc");
  if (entries.ok()) {
    for (const std::string& e : *entries) {
      if (e.empty() || e.find_first_not_of("0123456789") != std::string::npos) continue;
      auto p = InspectProcess(std::atoll(e.c_str()));
      if (p) children[p->ppid].push_back(p->pid);
    }
  }
  std::vector<int64_t> out, todo = {pid};
  while (!todo.empty()) {
    int64_t x = todo.back();
    todo.pop_back();
    for (int64_t c : children[x]) {
      out.push_back(c);
      todo.push_back(c);
    }
  }
  return out;
}

Status TerminateJob(int64_t pid, std::chrono::milliseconds grace) {
  // mpirun puts the ranks in process groups of their own, so the job is
  // every descendant, not just the script's group.  TERM goes to the script
  // only: it forwards TERM once to the step (a second TERM makes mpirun
  // abort without stopping its ranks).
  std::vector<int64_t> procs = Descendants(pid);
  procs.push_back(pid);
  if (::kill(static_cast<pid_t>(pid), SIGTERM) != 0 && errno != ESRCH)
    return Status::IOError("kill " + std::to_string(pid) + ": " + std::strerror(errno));
  auto any_alive = [&] {
    for (int64_t p : procs)
      if (InspectProcess(p)) return true;
    return false;
  };
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline && any_alive())
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (any_alive()) {
    for (int64_t p : Descendants(pid)) procs.push_back(p);
    for (int64_t p : procs)
      if (InspectProcess(p)) ::kill(static_cast<pid_t>(p), SIGKILL);
    ::killpg(static_cast<pid_t>(pid), SIGKILL);
  }
  return Status::OK();
}

Status KillProcessGroup(int64_t pgid, std::chrono::milliseconds grace) {
  pid_t g = static_cast<pid_t>(pgid);
  if (::killpg(g, SIGTERM) != 0) {
    if (errno == ESRCH) return Status::OK();
    return Status::IOError("kill process group " + std::to_string(pgid) + ": " + std::strerror(errno));
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!GroupAlive(pgid)) return Status::OK();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ::killpg(g, SIGKILL);
  return Status::OK();
}

std::unique_ptr<Backend> MakeLocalBackend() { return std::make_unique<LocalBackend>(); }

}  // namespace hpcai::slurm
