// The Slurm backend through the sbatch / squeue / scancel commands: the path
// for builds without libslurm (and forced with HPCAI_SLURM_API=cli).
#include <csignal>
#include <cstdlib>

#include "backends.h"
#include "process.h"
#include "slurm_util.h"

namespace hpcai::slurm {

namespace {

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (true) {
    size_t p = s.find(sep, pos);
    out.push_back(s.substr(pos, p == std::string::npos ? std::string::npos : p - pos));
    if (p == std::string::npos) break;
    pos = p + 1;
  }
  return out;
}

std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r\n") - a + 1);
}

// Slurm commands prefix messages with "sbatch: error: "; keep the message.
std::string SlurmMessage(const CommandResult& r) {
  std::string msg;
  for (const std::string& line : Split(r.err, '\n')) {
    std::string l = Trim(line);
    if (l.empty()) continue;
    for (const char* prefix : {"sbatch: error: ", "scancel: error: ", "squeue: error: ", "error: "})
      if (l.rfind(prefix, 0) == 0) l = l.substr(std::string(prefix).size());
    if (l.rfind("Batch job submission failed: ", 0) == 0) l = l.substr(29);
    if (!msg.empty()) msg += "; ";
    msg += l;
  }
  if (msg.empty()) msg = Trim(r.out);
  if (msg.empty()) msg = "exit code " + std::to_string(r.exit_code) + " without a message";
  return msg;
}

// The one squeue call of a status query.  -r expands pending array tasks;
// "JobArrayID" is "123" or "123_4"; a suffix on every field disables width truncation.
constexpr const char* kSqueueFormat =
    "JobArrayID:|,State:|,Reason:|,NumNodes:|,NodeList:|,TimeUsed:|,TimeLimit:|,RestartCnt:|,exit_code:|,WorkDir:|";

class CliBackend final : public Backend {
 public:
  std::string name() const override { return "slurm"; }
  std::string api() const override { return "cli"; }

  Result<SubmitResult> Submit(const SubmitRequest& req) override {
    std::string job_id;
    Status s = RetryTransient(DefaultRetryPolicy(), "job submission", [&](std::string* msg) {
      HPCAI_ASSIGN_OR_RETURN(CommandResult r, RunCommand({"sbatch", "--parsable", req.script_path}));
      if (r.exit_code != 0) {
        *msg = SlurmMessage(r);
        return Status::Refused(*msg);
      }
      job_id = Trim(r.out.substr(0, r.out.find(';')));
      if (job_id.empty() || job_id.find_first_not_of("0123456789") != std::string::npos)
        return Status::Internal("sbatch --parsable printed '" + Trim(r.out) + "', expected a job id");
      return Status::OK();
    });
    HPCAI_RETURN_IF_ERROR(s);
    SubmitResult res;
    res.job_id = job_id;
    return res;
  }

  Result<std::map<std::string, JobInfo>> Query(const std::vector<JobRef>& jobs) override {
    std::map<std::string, JobInfo> out;
    if (jobs.empty()) return out;
    std::map<std::string, const JobRef*> wanted;
    for (const auto& j : jobs) wanted[j.job_id] = &j;
    CommandResult r;
    Status s = RetryTransient(DefaultRetryPolicy(), "job query", [&](std::string* msg) {
      ++queries_;
      HPCAI_ASSIGN_OR_RETURN(r, RunCommand({"squeue", "-h", "-r", "-t", "all", "-O", kSqueueFormat}));
      if (r.exit_code != 0) {
        *msg = SlurmMessage(r);
        return Status::Unavailable(*msg);
      }
      return Status::OK();
    });
    HPCAI_RETURN_IF_ERROR(s);
    for (const std::string& line : Split(r.out, '\n')) {
      auto f = Split(line, '|');
      if (f.size() < 10) continue;
      // WorkDir is last and may itself contain '|' in other users' jobs.
      std::string work_dir = f[9];
      for (size_t i = 10; i + 1 < f.size(); ++i) work_dir += "|" + f[i];
      JobInfo info;
      info.job_id = Trim(f[0]);
      auto it = wanted.find(info.job_id);
      if (it == wanted.end()) continue;
      info.work_dir = work_dir;
      if (!it->second->job_dir.empty() && !info.work_dir.empty() && info.work_dir != it->second->job_dir) continue;
      info.state = Trim(f[1]);
      info.reason = Trim(f[2]) == "None" ? "" : Trim(f[2]);
      info.nodes = std::atoi(f[3].c_str());
      info.node_list = Trim(f[4]);
      info.elapsed_s = ParseSlurmDuration(f[5]);
      int64_t limit = ParseSlurmDuration(f[6]);
      info.time_limit_min = limit < 0 ? -1 : limit / 60;
      info.restarts = std::atoi(f[7].c_str());
      if (IsFinalSlurmState(info.state)) {
        int st = std::atoi(f[8].c_str());  // raw wait status, as libslurm's exit_code
        if ((st & 0x7f) != 0) {
          info.exit_signal = st & 0x7f;
          info.exit_code = 128 + info.exit_signal;
        } else {
          info.exit_code = (st >> 8) & 0xff;
        }
      }
      out[info.job_id] = std::move(info);
    }
    return out;
  }

  Status Cancel(const JobRef& job, const std::string& signal) override {
    std::vector<std::string> argv = {"scancel"};
    if (!signal.empty()) {
      int n = ParseSignal(signal);
      if (n == 0) return Status::InvalidArgument("unknown signal '" + signal + "' (e.g. USR1, TERM, INT)");
      argv.push_back("--signal=" + std::to_string(n));
      argv.push_back("--batch");  // to the batch script, which forwards it to the step
    }
    argv.push_back(job.job_id);
    return RetryTransient(DefaultRetryPolicy(), "cancel of job " + job.job_id, [&](std::string* msg) {
      HPCAI_ASSIGN_OR_RETURN(CommandResult r, RunCommand(argv));
      if (r.exit_code != 0) {
        *msg = SlurmMessage(r);
        if (msg->find("already completing or completed") != std::string::npos) return Status::OK();
        if (msg->find("Invalid job id") != std::string::npos)
          return Status::NotFound("Slurm does not know job " + job.job_id + " (" + *msg + ")");
        return Status::Refused(*msg);
      }
      return Status::OK();
    });
  }
};

}  // namespace

std::unique_ptr<Backend> MakeCliBackend() { return std::make_unique<CliBackend>(); }

}  // namespace hpcai::slurm
