// The training loop of hpcai-train (docs/runtime.md).
//
// Per step, on every rank:
//   reader.Next -> model.ForwardBackward (hook -> GradientSync.OnLayerReady)
//   -> GradientSync.Wait (grads = global mean; a small control tensor rides
//      along with loss, data-error and stop flags, so ranks agree on them
//      without an extra collective)
//   -> numerical guard -> LearningRate -> Optimizer.Step
// Eval every `eval_every`; metrics.jsonl, heartbeat.json and the progress
// line from rank 0.  Any failure is agreed by all ranks before they leave,
// so no rank is left inside a collective.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {

// Where this rank runs and how many threads it may use: from the Slurm
// environment, with plain-MPI (mpirun) and spec fallbacks.
struct RankEnvironment {
  int local_rank = 0;
  std::string local_rank_source;  // "SLURM_LOCALID" | "OMPI_COMM_WORLD_LOCAL_RANK" | ... | "MPI"
  int threads = 1;
  std::string threads_source;     // "--threads" | "SLURM_CPUS_PER_TASK" | "resources.cpus_per_task"
  std::string job_id;             // "<array job>_<task>" for array tasks, SLURM_JOB_ID, or ""
  int restart = 0;                // SLURM_RESTART_COUNT
};
using EnvLookup = std::function<const char*(const char*)>;
// Pure (env is injected; unit-tested).  threads_override > 0 wins; invalid
// environment values (non-numbers, <= 0) are ignored in favour of the next source.
RankEnvironment ResolveRankEnvironment(const ResolvedSpec& spec, int mpi_local_rank,
                                       int threads_override, const EnvLookup& env);

// training.eval_every: "epoch" -> 0 with *per_epoch = true; "N" -> N (0 =
// never); anything else -> -1.
int64_t ParseEvalEvery(const std::string& text, bool* per_epoch);

struct TrainOptions {
  std::string run_dir;                // metrics.jsonl, heartbeat.json, checkpoints/ go here
  std::optional<int64_t> max_steps;   // overrides training.max_steps
  int threads = 0;                    // 0 = from the environment / spec
  bool progress = true;               // rank 0 prints a line every log_every steps
  bool return_params = false;         // fill TrainSummary::final_params (tests)
  // Tests: behave as if a stop signal arrived during step `stop_at_step`
  // (1-based): checkpoint after it and return with stop_signal = -1.
  int64_t stop_at_step = -1;
};

struct TrainSummary {
  int64_t steps = 0;              // optimizer steps taken (including skipped ones)
  int64_t total_steps = 0;        // planned length of the run
  int64_t skipped_steps = 0;      // non-finite steps skipped (training.skip_nonfinite)
  int64_t epochs_completed = 0;
  double train_loss = -1;         // mean loss over the last logging window
  double val_loss = -1;           // final evaluation on data.val; -1 when there is none
  double val_accuracy = -1;
  double samples_per_sec = 0;     // training throughput, all ranks, eval excluded
  double data_fraction = 0;       // share of step time spent waiting for data
  double seconds = 0;             // wall time of Train()
  int stop_signal = 0;            // != 0: stopped early by this signal (agreed by all ranks);
                                  // -1 for TrainOptions::stop_at_step
  bool checkpointed = false;      // a checkpoint of the final state was written (end / preemption)
  int64_t resumed_from_step = -1; // >= 0: continued from a checkpoint of that step
  std::string model;              // Model::Describe()
  std::vector<float> final_params;  // all params, forward order (only if return_params)
};

// Trains `spec` on `comm`'s ranks.  Collective: every rank calls it with the
// same spec and options.  On failure every rank returns the same Status
// (the lowest failing rank's): SpecError/InvalidArgument (model does not fit
// the data), NotFound/Corrupt (data), Numerical (non-finite loss or gradient
// and skip_nonfinite off; names the step and the first layer), IOError (MPI,
// metrics files).  Rank 0 writes metrics.jsonl and heartbeat.json under
// options.run_dir and prints progress to stdout; errors are NOT printed here.
Result<TrainSummary> Train(const ResolvedSpec& spec, const TrainOptions& options, Communicator& comm);

}  // namespace hpcai::runtime
