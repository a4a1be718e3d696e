// Where jobs run: Slurm (libslurm when linked, else the sbatch/squeue/scancel
// commands) or the local machine (the same job script, detached, tracked by
// pid).  One interface; the choice is made in one place (backend_registry.cc).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/slurm/render.h"

namespace hpcai::slurm {

// A job as its backend reports it.
struct JobInfo {
  std::string job_id;        // "123", "123_4" (array task), "local-4711"
  // Slurm's state name (slurm_job_state_string / squeue %T): PENDING, RUNNING,
  // COMPLETING, COMPLETED, FAILED, CANCELLED, TIMEOUT, PREEMPTED, NODE_FAIL,
  // OUT_OF_MEMORY, REQUEUED, ...  The local backend reports RUNNING only.
  std::string state;
  std::string reason;        // "" when Slurm says None
  int nodes = 0;
  std::string node_list;
  int64_t elapsed_s = -1;        // -1 = unknown
  int64_t time_limit_min = -1;   // -1 = unknown or unlimited
  int restarts = 0;
  std::optional<int> exit_code;  // when the job has ended: exit status of the batch script
  int exit_signal = 0;           // signal that ended it, if any
  std::string work_dir;
};

// A job to look up: its id and the directory it was submitted from (guards
// against a recycled Slurm job id; the local backend checks the process).
struct JobRef {
  std::string job_id;
  std::string job_dir;
  int64_t pid = 0;  // local backend
};

struct SubmitRequest {
  std::string script_path;  // job.sbatch, already written
  std::string script;       // its text (libslurm sends the text)
  JobRequest job;
};

struct SubmitResult {
  std::string job_id;  // the job, or the array job for a sweep
  int64_t pid = 0;     // local backend: the process-group leader
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "slurm" | "local" (recorded in run.json)
  virtual std::string api() const = 0;   // "libslurm" | "cli" | "process"

  // Submits one job (or job array).  A refusal is Refused with Slurm's own
  // message and a hint; an unreachable controller is Unavailable.  Transient
  // errors are retried with backoff before either is returned.
  virtual Result<SubmitResult> Submit(const SubmitRequest& request) = 0;

  // Loads what Submit needs before it is called (libslurm: slurm.conf and the
  // client plugins), so a caller can overlap it with other work.  Optional:
  // Submit does it too, and reports its errors.
  virtual Status Prepare() { return Status::OK(); }

  // ONE batched query (one RPC / one command) for all `jobs`.  The result has
  // an entry for each job the backend still knows; absent = no longer known.
  virtual Result<std::map<std::string, JobInfo>> Query(const std::vector<JobRef>& jobs) = 0;

  // `signal` empty: cancel (Slurm: TERM, then KILL after KillWait; local:
  // TERM to the process group, KILL after 10 s).  Otherwise send that signal
  // (e.g. "USR1") to the batch script only, which forwards it to the step.
  virtual Status Cancel(const JobRef& job, const std::string& signal) = 0;

  // Slurm queries made by this object (tests and benchmarks read it).
  int queries() const { return queries_; }

 protected:
  int queries_ = 0;
};

// True when Slurm is configured on this machine: $SLURM_CONF is set, or
// /etc/slurm/slurm.conf exists.
bool SlurmConfigured();
// The slurm.conf in use ("" if none).
std::string SlurmConfPath();

// "auto" -> "slurm" when SlurmConfigured(), else "local"; "slurm"/"local"
// pass through; anything else is InvalidArgument.
Result<std::string> ResolveBackendName(const std::string& requested);

// A backend by resolved name.  "slurm" uses libslurm when this build links
// it, unless $HPCAI_SLURM_API=cli forces the commands.  Unavailable (with a
// hint) when Slurm is asked for but not configured.
Result<std::unique_ptr<Backend>> MakeBackend(const std::string& name);

// Whether this build can use libslurm.
bool HaveLibSlurm();

}  // namespace hpcai::slurm
