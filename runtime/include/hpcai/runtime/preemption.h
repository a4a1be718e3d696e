// After a preemption checkpoint: ask Slurm to requeue the job (rank 0), so
// the next attempt resumes from the checkpoint.  runtime/ does not include
// slurm/ (the run directory is the contract), so this runs `scontrol`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "hpcai/configs/spec.h"
#include "hpcai/runtime/trainer.h"

namespace hpcai::runtime {

struct RequeueOutcome {
  bool requeued = false;
  std::string message;  // one line for the log, e.g. "requeued job 42 (restart 1 of at most 5)"
  std::string reason;   // short, for `hpcai status`: "requeued (restart 1 of 5)", "max_restarts (5) reached"
};

// Runs argv (no shell), returns its exit status and stores stdout+stderr.
using CommandRunner = std::function<int(const std::vector<std::string>& argv, std::string* output)>;
// The real runner (fork + exec, output captured).
int RunCommand(const std::vector<std::string>& argv, std::string* output);

// Requeues the job when preemption.requeue is on, the process runs under
// Slurm (env.job_id, array-aware) and env.restart < preemption.max_restarts;
// otherwise explains why not (the run can still continue with `hpcai resume`).
// Call on ONE rank (rank 0), after the checkpoint is durable.
RequeueOutcome RequeueAfterPreemption(const PreemptionSpec& preemption, const RankEnvironment& env,
                                      const CommandRunner& run = RunCommand);

}  // namespace hpcai::runtime
