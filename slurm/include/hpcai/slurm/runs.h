// Submitting, following and cancelling runs: the registry (registry.h) plus
// a backend (backend.h).  The `hpcai submit/status/logs/cancel` commands are
// thin layers over these functions.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"
#include "hpcai/slurm/backend.h"
#include "hpcai/slurm/registry.h"

namespace hpcai::slurm {

struct SubmitOptions {
  std::string backend;     // "" = the spec's `backend`; else auto | slurm | local
  bool dry_run = false;    // render only: nothing is created or submitted
  std::string home;        // registry home; "" = Registry::DefaultHome()
};

struct SubmittedTask {
  std::string run_id, run_dir, name, job_id;
  int index = 0;
};

struct SubmitOutcome {
  std::string id;           // run id, or sweep id
  std::string kind;         // "run" | "sweep"
  std::string dir;          // run dir, or sweep dir
  std::string backend;      // "slurm" | "local"
  std::string api;          // "libslurm" | "cli" | "process"
  std::string job_id;       // the job, or the array job
  std::string script;       // job.sbatch as submitted
  std::string train_binary;
  std::string spec_hash;
  std::vector<SubmittedTask> tasks;  // sweep only
  // Not OK when the backend refused or could not be reached.  The run exists
  // and is recorded SUBMIT_FAILED with this message (never a live-looking run).
  Status submit_status;
};

// Creates the run directory (or the sweep directory with one run directory
// per task), renders job.sbatch, submits it, records the job id in run.json
// and the run in the index.  An error Result means nothing was created
// (invalid spec fields, Slurm asked for but not configured, unwritable
// runs_root); a refusal by the backend is reported in outcome.submit_status.
Result<SubmitOutcome> SubmitExperiment(const ResolvedSpec& spec, const SubmitOptions& options);

// What `hpcai status` shows for one run (or sweep).
struct RunStatus {
  IndexEntry entry;
  std::optional<RunRecord> record;
  bool missing = false;     // the run directory was deleted
  std::string error;        // run.json unreadable (message)
  std::string state;        // job state (docs/slurm.md), or MISSING / UNREADABLE
  std::string reason;
  std::string job_id;
  std::string backend;
  int restarts = 0;
  std::optional<int> exit_code;
  int nodes = 0;
  std::string node_list;
  int64_t elapsed_s = -1;
  int64_t time_limit_min = -1;
  bool live = false;        // may still run (not a final state)
  std::vector<std::string> task_states;  // a sweep: its tasks' states by index
};

struct StatusResult {
  std::vector<RunStatus> runs;  // in the order of the entries given
  int slurm_queries = 0;        // batched Slurm queries made (0 or 1)
  std::string warning;          // e.g. Slurm unreachable: live states unknown
};

// The entries `hpcai status` shows: for each ref (id, unique prefix, name),
// the run or the sweep followed by its tasks; with no refs, every indexed
// run.  Missing refs are NotFound / ambiguous ones InvalidArgument.
Result<std::vector<IndexEntry>> SelectRuns(const Registry& registry, const std::vector<std::string>& refs);

// States of `entries` with ONE batched Slurm query for all live Slurm jobs
// (none when nothing is live); final states come from run.json, else from the
// run directory's exit files and Slurm's jobcomp log, and are written back to
// run.json once known.  `slurm` replaces the Slurm backend (unit tests);
// nullptr = MakeBackend("slurm") when a query is needed.
StatusResult CollectStatus(const std::vector<IndexEntry>& entries, Backend* slurm = nullptr);

// True for states after which a job does not run again by itself.
bool IsFinalState(const std::string& state);

// Cancels a run, a sweep (the whole array) or one sweep task; with a
// `signal`, sends it to the job script instead (which forwards it to the
// step).  Recorded in run.json.  Returns a line describing what was done.
Result<std::string> CancelRun(const IndexEntry& entry, const std::string& signal);

// A new attempt of an existing run (for `hpcai resume`): re-renders
// job.sbatch from `spec` for the same run directory, submits it through the
// run's backend and appends the attempt to run.json.  spec.yaml is not
// touched (the caller decides what to record).  FailedPrecondition when the
// run is still live or is a sweep; a refusal is returned as the error, with
// the attempt recorded SUBMIT_FAILED.  Returns the new job id.
Result<std::string> SubmitNewAttempt(const IndexEntry& entry, const ResolvedSpec& spec);

}  // namespace hpcai::slurm
