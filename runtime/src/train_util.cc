// Pure helpers of the training loop (unit-tested without MPI or data).
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "hpcai/runtime/model.h"
#include "hpcai/runtime/trainer.h"

namespace hpcai::runtime {
namespace {

bool ParseNonNegative(const char* v, int* out) {
  if (v == nullptr || *v == '\0') return false;
  char* end = nullptr;
  long x = std::strtol(v, &end, 10);
  if (*end != '\0' || x < 0 || x > 1 << 20) return false;
  *out = static_cast<int>(x);
  return true;
}

}  // namespace

RankEnvironment ResolveRankEnvironment(const ResolvedSpec& spec, int mpi_local_rank, int threads_override,
                                       const EnvLookup& env) {
  RankEnvironment r;
  r.local_rank = mpi_local_rank;
  r.local_rank_source = "MPI";
  for (const char* name : {"SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "PMI_LOCAL_RANK"}) {
    int v = 0;
    if (ParseNonNegative(env(name), &v)) {
      r.local_rank = v;
      r.local_rank_source = name;
      break;
    }
  }
  int t = 0;
  if (threads_override > 0) {
    r.threads = threads_override;
    r.threads_source = "--threads";
  } else if (ParseNonNegative(env("SLURM_CPUS_PER_TASK"), &t) && t > 0) {
    r.threads = t;
    r.threads_source = "SLURM_CPUS_PER_TASK";
  } else {
    r.threads = std::max(1, spec.resources.cpus_per_task);
    r.threads_source = "resources.cpus_per_task";
  }
  const char* array_job = env("SLURM_ARRAY_JOB_ID");
  const char* array_task = env("SLURM_ARRAY_TASK_ID");
  const char* job = env("SLURM_JOB_ID");
  if (array_job && *array_job && array_task && *array_task) {
    r.job_id = std::string(array_job) + "_" + array_task;
  } else if (job && *job) {
    r.job_id = job;
  }
  int restart = 0;
  if (ParseNonNegative(env("SLURM_RESTART_COUNT"), &restart)) r.restart = restart;
  return r;
}

int64_t ParseEvalEvery(const std::string& text, bool* per_epoch) {
  *per_epoch = text == "epoch";
  if (*per_epoch) return 0;
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || v < 0) return -1;
  return v;
}

}  // namespace hpcai::runtime
