// hpcai-train: the MPI program every rank of a job runs (docs/runtime.md).
//
//   srun|mpirun hpcai-train --run-dir RUN [--max-steps N] [--threads T]
//   hpcai-train --run-dir RUN            (a single process, for debugging)
//
// Exit codes (docs/exit-codes.md): 0 done, 2 spec/usage, 3 data, 4 numerical,
// 75 preempted (checkpointed; the job script requeues when asked), 1 anything else.
#include <mpi.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"
#include "hpcai/io/rundir.h"
#include "hpcai/runtime/communicator.h"
#include "hpcai/runtime/metrics.h"
#include "hpcai/runtime/preemption.h"
#include "hpcai/runtime/rank_log.h"
#include "hpcai/runtime/signals.h"
#include "hpcai/runtime/trainer.h"

namespace {

using namespace hpcai;
using namespace hpcai::runtime;

struct Args {
  std::string run_dir;
  int64_t max_steps = -1;
  int threads = 0;
  bool quiet = false;
};

int Fail(int rank, const Status& st) {
  if (rank == 0) {
    std::fprintf(stderr, "hpcai-train: error: %s\n", st.message().c_str());
    std::fflush(stderr);
  }
  return ExitCodeFor(st);
}

// The attempt's names as the job script spells them, when this process runs
// under one (it exports HPCAI_JOB_ID and HPCAI_RESTART); its markers in logs/
// are only written then.
std::optional<RankLogName> JobScriptAttempt() {
  const char* job = std::getenv("HPCAI_JOB_ID");
  const char* restart = std::getenv("HPCAI_RESTART");
  if (!job || !restart || !*job || !*restart) return std::nullopt;
  return RankLogNameFromEnv(job, restart);
}

// Every rank's stdout/stderr also goes to logs/rank-<rank>-<job>-<restart>.log
// (`hpcai logs RUN --rank N`); the job log is unchanged.  Only when the run
// directory exists: a wrong --run-dir is reported by the spec check instead.
void StartRankLog(const std::string& run_dir, int rank, int world_size) {
  if (!fs::IsDir(run_dir)) return;
  const RankLogName name = RankLogNameFromEnv(std::getenv("HPCAI_JOB_ID"), std::getenv("HPCAI_RESTART"));
  const std::string path = io::RunPaths{run_dir}.rank_log(rank, name.job_id, name.restart);
  char host[256] = "?";
  if (gethostname(host, sizeof host) != 0) std::strcpy(host, "?");
  host[sizeof host - 1] = '\0';
  const std::string first = "hpcai-train rank " + std::to_string(rank) + " of " + std::to_string(world_size) +
                            " on " + host + " (pid " + std::to_string(getpid()) + ", job " + name.job_id +
                            " restart " + std::to_string(name.restart) + ")";
  Status st = TeeStdioToFile(path, first);
  if (!st.ok())
    std::fprintf(stderr, "hpcai-train: warning: rank %d: %s (its output goes to the job log only)\n", rank,
                 st.message().c_str());
}

bool BuildHasNccl() {
  auto b = CommBackendsBuilt();
  return std::find(b.begin(), b.end(), "nccl") != b.end();
}

int RunRank(const Args& args) {
  // MPI communicator first: every later failure must be agreed by all ranks.
  auto world = CreateCommunicator(CommOptions{});
  if (!world.ok()) {
    std::fprintf(stderr, "hpcai-train: error: %s\n", world.status().message().c_str());
    return ExitCodeFor(world.status());
  }
  Communicator& mpi = **world;
  const int rank = mpi.rank();
  StartRankLog(args.run_dir, rank, mpi.size());

  SpecLoadOptions lo;
  lo.check_data = false;  // the reader validates data itself, with agreement
  lo.cuda_available = BuildHasNccl();
  const std::string spec_path = fs::Join(args.run_dir, "spec.yaml");
  SpecLoadResult loaded = LoadSpecFile(spec_path, lo);
  Status st;
  if (!fs::Exists(spec_path)) {
    st = Status::SpecError("no spec.yaml in the run directory " + args.run_dir +
                           " (hint: `hpcai submit` creates run directories; check --run-dir)");
  } else if (!loaded.ok()) {
    st = Status::SpecError(spec_path + ": invalid spec:\n" + loaded.FormatAll());
  } else if (loaded.spec->resources.gpus_per_node > 0 && !BuildHasNccl()) {
    st = Status::FailedPrecondition(
        "the spec asks for " + std::to_string(loaded.spec->resources.gpus_per_node) +
        " GPUs per node but this hpcai-train has no CUDA/NCCL backend (hint: rebuild with "
        "-DHPCAI_WITH_CUDA=ON, or set resources.gpus_per_node: 0)");
  }
  st = AgreeStatus(mpi, st);
  if (!st.ok()) return Fail(rank, st);
  const ResolvedSpec& spec = *loaded.spec;

  std::vector<std::string> stop_signals = {spec.preemption.signal};
  if (spec.preemption.signal != "TERM") stop_signals.push_back("TERM");
  st = AgreeStatus(mpi, InstallStopSignals(stop_signals));
  if (!st.ok()) return Fail(rank, st);
  // Every rank has its handlers now (the agreement above is collective): the
  // job script stops holding back a preemption signal that came earlier.
  if (const auto name = JobScriptAttempt(); name && rank == 0) {
    Status w = fs::AtomicWriteFile(io::RunPaths{args.run_dir}.signals_ready(name->job_id, name->restart),
                                   std::to_string(getpid()) + "\n");
    if (!w.ok()) std::fprintf(stderr, "hpcai-train: warning: %s (a preemption signal is delayed up to 20 s)\n",
                              w.ToString().c_str());
  }

  std::unique_ptr<Communicator> gpu_comm;
  Communicator* comm = &mpi;
  if (spec.resources.gpus_per_node > 0) {
    auto c = CreateCommunicator(CommOptions{.gpu = true});
    st = AgreeStatus(mpi, c.ok() ? Status::OK() : c.status());
    if (!st.ok()) return Fail(rank, st);
    gpu_comm = std::move(c).value();
    comm = gpu_comm.get();
  }

  TrainOptions to;
  to.run_dir = args.run_dir;
  if (args.max_steps >= 0) to.max_steps = args.max_steps;
  to.threads = args.threads;
  to.progress = !args.quiet;
  auto result = Train(spec, to, *comm);
  if (!result.ok()) return Fail(rank, result.status());
  const TrainSummary& s = *result;
  if (rank == 0) {
    std::string acc = s.val_accuracy >= 0
                          ? "test accuracy " + std::to_string(s.val_accuracy).substr(0, 6) + " (loss " +
                                std::to_string(s.val_loss).substr(0, 6) + ")"
                          : std::string(s.stop_signal != 0 ? "no final evaluation (stopped)" : "no validation data");
    std::printf("hpcai-train: %s: %lld/%lld steps (%lld epoch%s) in %s | %s | %s samples/s on %d rank%s | data %.1f%% of step time%s\n",
                s.stop_signal != 0 ? "stopped" : "done", static_cast<long long>(s.steps),
                static_cast<long long>(s.total_steps), static_cast<long long>(s.epochs_completed),
                s.epochs_completed == 1 ? "" : "s",
                FormatDuration(s.seconds).c_str(), acc.c_str(), FormatRate(s.samples_per_sec).c_str(),
                comm->size(), comm->size() == 1 ? "" : "s", 100.0 * s.data_fraction,
                s.skipped_steps > 0 ? (" | skipped " + std::to_string(s.skipped_steps) + " non-finite steps").c_str()
                                    : "");
    std::fflush(stdout);
  }
  if (s.stop_signal != 0) {
    // The checkpoint is durable (Train waited for it).  Rank 0 decides about
    // the requeue and, if one is due, leaves the request for the job script,
    // which runs `scontrol requeue` after this step has exited: Slurm stops a
    // job as soon as it is requeued, so a requeue from here could kill the
    // ranks before this line reached the log (docs/slurm.md).  All leave with 75.
    if (rank == 0) {
      const RankEnvironment env = ResolveRankEnvironment(spec, comm->local_rank(), args.threads,
                                                         [](const char* n) { return std::getenv(n); });
      const io::RunPaths paths{args.run_dir};
      // The job script records a step that ends by a signal after this point
      // (srun --kill-on-bad-exit stopping the ranks as the first one exits 75,
      // Slurm's kill at the time limit) as checkpointed, 75.
      if (const auto name = JobScriptAttempt()) {
        Json mark = Json::MakeObject();
        mark.set("step", s.steps);
        mark.set("signal", s.stop_signal);
        Status w = fs::AtomicWriteFile(paths.checkpointed_marker(name->job_id, name->restart), mark.dump() + "\n");
        if (!w.ok()) std::fprintf(stderr, "hpcai-train: warning: %s\n", w.ToString().c_str());
      }
      RequeueDecision rq = DecideRequeue(spec.preemption, env, s.stop_signal);
      if (rq.requeue) {
        Status w = WriteRequeueRequest(args.run_dir, spec.preemption, env, s.steps, s.stop_signal);
        if (!w.ok()) {
          rq.requeue = false;
          rq.message = "not requeued: the request for the job script was not written (" + w.message() + ")";
          rq.reason = "requeue request not written";
        }
      }
      const std::string line =
          "hpcai-train: preempted" +
          (s.stop_signal > 0 ? " by SIG" + std::string(sigabbrev_np(s.stop_signal) ? sigabbrev_np(s.stop_signal) : "?")
                             : std::string()) +
          " after step " + std::to_string(s.steps) + ": checkpoint written; " + rq.message +
          (rq.requeue ? "" : "; continue with `hpcai resume " + args.run_dir + "`");
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
      // `hpcai status` shows why a checkpointed run stopped for good.
      if (auto hb = io::ReadHeartbeat(paths); hb.ok()) {
        hb->note = rq.reason;
        Status w = io::WriteHeartbeat(paths, *hb);
        if (!w.ok()) std::fprintf(stderr, "hpcai-train: warning: %s\n", w.ToString().c_str());
      }
    }
    (void)mpi.Barrier();
    return exit_code::kRequeued;
  }
  return exit_code::kOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hpcai-train: data-parallel training of one run directory (run under srun or mpirun)"};
  Args args;
  app.add_option("--run-dir", args.run_dir, "Run directory holding spec.yaml; metrics and checkpoints go here")
      ->required();
  app.add_option("--max-steps", args.max_steps, "Stop after this many optimizer steps (overrides the spec)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--threads", args.threads,
                 "Threads per rank (default: SLURM_CPUS_PER_TASK, else resources.cpus_per_task)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--quiet", args.quiet, "No progress lines (errors and the summary are still printed)");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? hpcai::exit_code::kOk : hpcai::exit_code::kSpecError;
  }

  hpcai::runtime::PrepareMpiEnvironment();
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fprintf(stderr, "hpcai-train: error: MPI_Init_thread failed (is this an Open MPI launch?)\n");
    return hpcai::exit_code::kFailure;
  }
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  int rc = RunRank(args);
  // Ranks leave together: a rank still running would see its peers vanish.
  MPI_Finalize();
  return rc;
}
