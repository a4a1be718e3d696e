// After a preemption checkpoint: decide whether the job should be requeued,
// and leave that request for the job script.  The job script runs
// `scontrol requeue` itself once the job step has exited: Slurm stops a job
// as soon as it is requeued, so a requeue from inside the step could kill the
// ranks (and lose their last log lines) before they exit (docs/slurm.md).
// runtime/ does not include slurm/: the run directory is the contract.
#pragma once

#include <cstdint>
#include <string>

#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"
#include "hpcai/runtime/trainer.h"

namespace hpcai::runtime {

struct RequeueDecision {
  bool requeue = false;  // ask the job script to requeue the job
  // One line for the log, e.g. "requeue requested for job 42 (restart 1 of at most 5)"
  // or "not requeued: preemption.max_restarts (5) reached (this is restart 5)".
  std::string message;
  // Short, for `hpcai status` (the heartbeat note): "requeue requested (restart 1 of 5)",
  // "max_restarts (5) reached", "preemption.requeue is false", "not under Slurm".
  std::string reason;
};

// Pure (unit-tested).  requeue is true when preemption.requeue is on, the
// process runs under Slurm (env.job_id non-empty, "<array>_<task>" for an
// array task) and env.restart < preemption.max_restarts; otherwise the
// message says why not (the run can still continue with `hpcai resume`).
// A stop by SIGTERM (`stop_signal`) is not requeued unless TERM is the
// preemption signal: TERM comes from a cancel (`hpcai cancel`, scancel), from
// Slurm ending the job at its time limit, or from Slurm's own preemption
// (which requeues by itself when configured to); requeueing there would undo
// a cancel.  stop_signal <= 0: not stopped by a signal (a test's step limit).
// Runs no command.
RequeueDecision DecideRequeue(const PreemptionSpec& preemption, const RankEnvironment& env, int stop_signal);

// Writes logs/requeue-<env.job_id>-<env.restart>.json in run_dir (atomically
// replaced; io::RunPaths::requeue_request): {"job_id","restart",
// "next_restart","max_restarts","step","signal"}.  The job script only tests
// that the file exists.  Call on ONE rank (rank 0), after the checkpoint is
// durable and only when DecideRequeue said requeue.  Returns the write error.
Status WriteRequeueRequest(const std::string& run_dir, const PreemptionSpec& preemption,
                           const RankEnvironment& env, int64_t step, int signal);

}  // namespace hpcai::runtime
