// The Slurm backend through libslurm (compiled only when libslurm is linked;
// chosen in backend_registry.cc).  Each public call is one RPC to slurmctld.
#include <slurm/slurm.h>
#include <slurm/slurm_errno.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <ctime>
#include <mutex>

#include "backends.h"
#include "hpcai/base/fs.h"
#include "slurm_util.h"

extern char** environ;

// Exported by libslurm (the same functions squeue and scontrol print states
// and reasons with) but not declared in <slurm/slurm.h> of 22.05.
extern "C" char* slurm_job_state_string(uint32_t inx);
extern "C" const char* slurm_job_reason_string(enum job_state_reason inx);

namespace hpcai::slurm {

namespace {

std::string Str(const char* s) { return s ? std::string(s) : std::string(); }

// slurm_init() calls fatal() (exits the process) when no configuration can
// be found, so it is only called after the file was seen.
Status EnsureInit() {
  static std::once_flag once;
  static Status result;
  std::call_once(once, [] {
    std::string conf = SlurmConfPath();
    if (conf.empty() || !fs::Exists(conf)) {
      result = Status::Unavailable("Slurm configuration '" + (conf.empty() ? std::string("/etc/slurm/slurm.conf") : conf) +
                                   "' does not exist\n  hint: fix $SLURM_CONF, or use --backend local");
      return;
    }
    slurm_init(nullptr);
  });
  return result;
}

// "1-2%1", "0,3-5", "0-9:2" -> indices.
std::vector<uint32_t> ExpandTaskString(const std::string& s) {
  std::vector<uint32_t> out;
  std::string body = s.substr(0, s.find('%'));
  size_t pos = 0;
  while (pos <= body.size()) {
    size_t comma = body.find(',', pos);
    std::string part = body.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    pos = comma == std::string::npos ? body.size() + 1 : comma + 1;
    if (part.empty()) continue;
    uint32_t step = 1;
    auto colon = part.find(':');
    if (colon != std::string::npos) {
      step = static_cast<uint32_t>(std::max(1L, std::atol(part.substr(colon + 1).c_str())));
      part = part.substr(0, colon);
    }
    auto dash = part.find('-');
    uint32_t a = static_cast<uint32_t>(std::atol(part.substr(0, dash).c_str()));
    uint32_t b = dash == std::string::npos ? a : static_cast<uint32_t>(std::atol(part.substr(dash + 1).c_str()));
    for (uint32_t i = a; i <= b && out.size() < 100000; i += step) out.push_back(i);
  }
  return out;
}

JobInfo ToJobInfo(const slurm_job_info_t& j, time_t now) {
  JobInfo info;
  info.state = Str(slurm_job_state_string(j.job_state));
  // The reason code only (as `squeue -O Reason`), so both API paths agree.
  std::string reason = Str(slurm_job_reason_string(static_cast<job_state_reason>(j.state_reason)));
  info.reason = reason == "None" ? "" : reason;
  info.nodes = static_cast<int>(j.num_nodes);
  info.node_list = Str(j.nodes);
  // Run time as squeue computes it.
  uint32_t base = j.job_state & JOB_STATE_BASE;
  if (base == JOB_PENDING || j.start_time == 0) {
    info.elapsed_s = 0;
  } else if (base == JOB_SUSPENDED) {
    info.elapsed_s = j.pre_sus_time;
  } else {
    time_t end = base == JOB_RUNNING ? now : (j.end_time ? j.end_time : now);
    info.elapsed_s = j.suspend_time ? j.pre_sus_time + (end - j.suspend_time) : end - j.start_time;
    if (info.elapsed_s < 0) info.elapsed_s = 0;
  }
  info.time_limit_min = (j.time_limit == INFINITE || j.time_limit == NO_VAL) ? -1 : j.time_limit;
  info.restarts = j.restart_cnt;
  if (IsFinalSlurmState(info.state)) {
    int st = static_cast<int>(j.exit_code);
    if (WIFSIGNALED(st)) {
      info.exit_signal = WTERMSIG(st);
      info.exit_code = 128 + info.exit_signal;
    } else {
      info.exit_code = WEXITSTATUS(st);
    }
  }
  info.work_dir = Str(j.work_dir);
  return info;
}

class LibSlurmBackend final : public Backend {
 public:
  std::string name() const override { return "slurm"; }
  std::string api() const override { return "libslurm"; }

  Status Prepare() override { return EnsureInit(); }

  Result<SubmitResult> Submit(const SubmitRequest& req) override {
    HPCAI_RETURN_IF_ERROR(EnsureInit());
    const JobRequest& r = req.job;
    job_desc_msg_t d;
    slurm_init_job_desc_msg(&d);
    // Strings are only read by libslurm; the casts drop const for its C API.
    std::string script = req.script;
    d.script = script.data();
    std::string name = r.job_name, work = r.work_dir, out = r.output, err = r.error;
    std::string devnull = "/dev/null";
    d.name = name.data();
    d.work_dir = work.data();
    d.std_out = out.data();
    d.std_err = err.data();
    d.std_in = devnull.data();
    std::string argv0 = req.script_path;
    char* argv[] = {argv0.data(), nullptr};
    d.argc = 1;
    d.argv = argv;
    d.min_nodes = d.max_nodes = static_cast<uint32_t>(r.nodes);
    d.num_tasks = static_cast<uint32_t>(r.ntasks());
    d.ntasks_per_node = static_cast<uint16_t>(r.ntasks_per_node);
    d.cpus_per_task = static_cast<uint16_t>(r.cpus_per_task);
    d.min_cpus = static_cast<uint32_t>(r.ntasks() * r.cpus_per_task);
    d.pn_min_memory = static_cast<uint64_t>(r.mem_mb);
    d.time_limit = static_cast<uint32_t>(r.time_minutes);
    std::string partition = r.partition, account = r.account, qos = r.qos, features = r.constraint;
    if (!partition.empty()) d.partition = partition.data();
    if (!account.empty()) d.account = account.data();
    if (!qos.empty()) d.qos = qos.data();
    if (!features.empty()) d.features = features.data();
    if (r.exclusive) d.shared = JOB_SHARED_NONE;
    std::string gpus = "gres:gpu:" + std::to_string(r.gpus_per_node);
    if (r.gpus_per_node > 0) d.tres_per_node = gpus.data();
    d.requeue = r.requeue ? 1 : 0;
    d.open_mode = OPEN_MODE_APPEND;
    d.warn_signal = static_cast<uint16_t>(r.signal_number);
    d.warn_time = static_cast<uint16_t>(r.lead_seconds);
    d.warn_flags = KILL_JOB_BATCH;
    std::string array = r.array;
    if (!array.empty()) d.array_inx = array.data();
    d.user_id = ::getuid();
    d.group_id = ::getgid();
    // --export=ALL, as sbatch does by default.
    std::vector<char*> env;
    for (char** e = environ; e && *e; ++e) env.push_back(*e);
    d.environment = env.data();
    d.env_size = static_cast<uint32_t>(env.size());

    uint32_t job_id = 0;
    Status s = RetryTransient(DefaultRetryPolicy(), "job submission", [&](std::string* msg) {
      submit_response_msg_t* resp = nullptr;
      if (slurm_submit_batch_job(&d, &resp) != SLURM_SUCCESS) {
        int e = slurm_get_errno();
        *msg = Str(slurm_strerror(e));
        if (resp) slurm_free_submit_response_response_msg(resp);
        return Status::Refused(*msg);
      }
      job_id = resp->job_id;
      slurm_free_submit_response_response_msg(resp);
      return Status::OK();
    });
    HPCAI_RETURN_IF_ERROR(s);
    SubmitResult res;
    res.job_id = std::to_string(job_id);
    return res;
  }

  Result<std::map<std::string, JobInfo>> Query(const std::vector<JobRef>& jobs) override {
    std::map<std::string, JobInfo> out;
    if (jobs.empty()) return out;
    HPCAI_RETURN_IF_ERROR(EnsureInit());
    std::map<std::string, const JobRef*> wanted;
    for (const auto& j : jobs) wanted[j.job_id] = &j;
    job_info_msg_t* msg = nullptr;
    Status s = RetryTransient(DefaultRetryPolicy(), "job query", [&](std::string* m) {
      ++queries_;
      if (slurm_load_jobs(0, &msg, SHOW_ALL) != SLURM_SUCCESS) {
        *m = Str(slurm_strerror(slurm_get_errno()));
        return Status::Unavailable(*m);
      }
      return Status::OK();
    });
    HPCAI_RETURN_IF_ERROR(s);
    time_t now = std::time(nullptr);
    auto add = [&](const std::string& id, const slurm_job_info_t& j) {
      auto it = wanted.find(id);
      if (it == wanted.end()) return;
      JobInfo info = ToJobInfo(j, now);
      // A recycled job id (e.g. a rebuilt cluster) is not our job.
      if (!it->second->job_dir.empty() && !info.work_dir.empty() && info.work_dir != it->second->job_dir) return;
      info.job_id = id;
      out[id] = std::move(info);
    };
    for (uint32_t i = 0; i < msg->record_count; ++i) {
      const slurm_job_info_t& j = msg->job_array[i];
      if (j.array_task_id != NO_VAL) {
        add(std::to_string(j.array_job_id) + "_" + std::to_string(j.array_task_id), j);
      } else if (j.array_task_str && *j.array_task_str) {
        for (uint32_t t : ExpandTaskString(j.array_task_str))
          add(std::to_string(j.array_job_id) + "_" + std::to_string(t), j);
        add(std::to_string(j.job_id), j);
      } else {
        add(std::to_string(j.job_id), j);
      }
    }
    slurm_free_job_info_msg(msg);
    return out;
  }

  Status Cancel(const JobRef& job, const std::string& signal) override {
    HPCAI_RETURN_IF_ERROR(EnsureInit());
    uint16_t sig = SIGKILL;  // scancel's default: Slurm's cancel sequence (TERM, KillWait, KILL)
    uint16_t flags = 0;
    if (!signal.empty()) {
      int n = ParseSignal(signal);
      if (n == 0) return Status::InvalidArgument("unknown signal '" + signal + "' (e.g. USR1, TERM, INT)");
      sig = static_cast<uint16_t>(n);
      flags = KILL_JOB_BATCH;  // to the batch script, which forwards it to the step
    }
    return RetryTransient(DefaultRetryPolicy(), "cancel of job " + job.job_id, [&](std::string* m) {
      if (slurm_kill_job2(job.job_id.c_str(), sig, flags, nullptr) != SLURM_SUCCESS) {
        int e = slurm_get_errno();
        *m = Str(slurm_strerror(e));
        if (e == ESLURM_ALREADY_DONE) return Status::OK();  // nothing left to cancel
        if (e == ESLURM_INVALID_JOB_ID)
          return Status::NotFound("Slurm does not know job " + job.job_id + " (" + *m + ")");
        return Status::Refused(*m);
      }
      return Status::OK();
    });
  }
};

}  // namespace

std::unique_ptr<Backend> MakeLibSlurmBackend() { return std::make_unique<LibSlurmBackend>(); }

}  // namespace hpcai::slurm
