#include "hpcai/runtime/preemption.h"

#include <csignal>

#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/io/rundir.h"

namespace hpcai::runtime {

RequeueDecision DecideRequeue(const PreemptionSpec& preemption, const RankEnvironment& env, int stop_signal) {
  RequeueDecision out;
  if (!preemption.requeue) {
    out.message = "not requeued (preemption.requeue is false)";
    out.reason = "preemption.requeue is false";
    return out;
  }
  if (stop_signal == SIGTERM && preemption.signal != "TERM") {
    out.message = "not requeued (stopped by SIGTERM: a cancel, or Slurm ending the job; only preemption.signal SIG" +
                  preemption.signal + " requeues)";
    out.reason = "stopped by SIGTERM";
    return out;
  }
  if (env.job_id.empty()) {
    out.message = "not requeued (not running under Slurm: no SLURM_JOB_ID)";
    out.reason = "not under Slurm";
    return out;
  }
  if (env.restart >= preemption.max_restarts) {
    out.message = "not requeued: preemption.max_restarts (" + std::to_string(preemption.max_restarts) +
                  ") reached (this is restart " + std::to_string(env.restart) + ")";
    out.reason = "max_restarts (" + std::to_string(preemption.max_restarts) + ") reached";
    return out;
  }
  out.requeue = true;
  out.message = "requeue requested for job " + env.job_id + " (restart " + std::to_string(env.restart + 1) +
                " of at most " + std::to_string(preemption.max_restarts) + ")";
  out.reason = "requeue requested (restart " + std::to_string(env.restart + 1) + " of " +
               std::to_string(preemption.max_restarts) + ")";
  return out;
}

Status WriteRequeueRequest(const std::string& run_dir, const PreemptionSpec& preemption,
                           const RankEnvironment& env, int64_t step, int signal) {
  Json j = Json::MakeObject();
  j.set("job_id", env.job_id);
  j.set("restart", env.restart);
  j.set("next_restart", env.restart + 1);
  j.set("max_restarts", preemption.max_restarts);
  j.set("step", step);
  j.set("signal", signal);
  const io::RunPaths paths{run_dir};
  HPCAI_RETURN_IF_ERROR(fs::MakeDirs(paths.logs_dir()));
  return fs::AtomicWriteFile(paths.requeue_request(env.job_id, env.restart), j.dump() + "\n");
}

}  // namespace hpcai::runtime
