// job.sbatch rendering: one deterministic bash script per run (or per sweep,
// as a job array) built from a ResolvedSpec.
//
// Safety rule: no spec value reaches the script unquoted.  Values that Slurm
// parses on `#SBATCH` lines (partition, account, qos, constraint, paths) are
// validated to a safe character set; values used by the shell (env values,
// module names, paths, the train binary) are single-quoted with '\'' escaping.
// The one deliberate exception is `environment.setup`: those lines are the
// user's own shell, copied verbatim (docs/slurm.md).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"

namespace hpcai::slurm {

// The input of one job script.
struct ScriptInput {
  // Job-level fields are read from here: name, resources, environment,
  // launcher, preemption.  For a sweep, the spec of task 0 (all tasks must
  // agree on these; see CheckSweepUniform).
  ResolvedSpec spec;
  std::string id;         // run id, or sweep id for an array
  std::string job_dir;    // absolute: the run dir, or the sweep dir for an array
  // Array only: task i runs in task_run_dirs[i].  Empty for a single run.
  std::vector<std::string> task_run_dirs;
  int array_parallelism = 0;  // %P of --array; 0 = unlimited
  std::string train_binary;   // absolute path (see ResolveTrainBinary)
  std::string spec_hash;      // shown in the header comment
};

// What Slurm is asked for: the single source of both the `#SBATCH` lines and
// the libslurm job descriptor, so `sbatch` and `slurm_submit_batch_job`
// submissions of one spec are the same job.
struct JobRequest {
  std::string job_name;
  int nodes = 1;
  int ntasks_per_node = 1;
  int cpus_per_task = 1;
  int gpus_per_node = 0;
  std::string mem;           // as written in the spec, e.g. "4G"
  int64_t mem_mb = 0;        // the same in MiB (libslurm pn_min_memory)
  std::string time;          // as written in the spec, e.g. "00:30:00"
  int64_t time_minutes = 0;  // rounded up, like sbatch
  std::string partition, account, qos, constraint;  // "" = not set
  bool exclusive = false;
  bool requeue = false;
  std::string signal;        // "USR1" ...
  int signal_number = 0;     // SIGUSR1 ...
  int lead_seconds = 0;
  std::string work_dir;      // --chdir
  std::string output, error; // Slurm-level log patterns (%j, or %A_%a for arrays)
  std::string array;         // "" or "0-N" / "0-N%P"
  int ntasks() const { return nodes * ntasks_per_node; }
};

// Validates every field that reaches Slurm or the script and derives the
// request.  InvalidArgument names the spec key, the bad value and the
// allowed form.
Result<JobRequest> MakeJobRequest(const ScriptInput& input);

// Renders job.sbatch.  Deterministic: same input, same bytes (no clock, no
// host name).  Fails like MakeJobRequest.
Result<std::string> RenderJobScript(const ScriptInput& input);

// Sweep tasks share one array job, so they must agree on everything the
// script fixes for all tasks.  InvalidArgument names the differing key.
Status CheckSweepUniform(const std::vector<ResolvedSpec>& tasks);

// The hpcai-train to launch: spec `train_binary`, else $HPCAI_TRAIN_BINARY,
// else hpcai-train beside the running hpcai.  Returned absolute.  When
// `must_exist`, NotFound (with a hint) if it is not an executable file.
Result<std::string> ResolveTrainBinary(const ResolvedSpec& spec, bool must_exist);

// '…' quoting for bash: every byte is literal, ' becomes '\''.
std::string ShellQuote(const std::string& s);

// Slurm size/time syntax, as sbatch reads it.
Result<int64_t> ParseMemMiB(const std::string& mem);       // "4G" -> 4096; no suffix = MiB
Result<int64_t> ParseTimeMinutes(const std::string& time); // "1-00:00:30" -> 1441
// "USR1" -> SIGUSR1; 0 when unknown.
int SignalNumber(const std::string& name);

}  // namespace hpcai::slurm
