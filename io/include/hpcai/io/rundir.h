// Run-directory files written by hpcai-train and read by the `hpcai` front end
// (contract: docs/run-directory.md).  spec.yaml/job.sbatch/run.json belong to
// slurm/ (the registry); this header covers what the job writes.
#pragma once

#include <cstdint>
#include <string>

#include "hpcai/base/json.h"
#include "hpcai/base/status.h"

namespace hpcai::io {

// Well-known paths inside a run directory.
struct RunPaths {
  std::string root;
  std::string spec() const { return root + "/spec.yaml"; }
  std::string job_script() const { return root + "/job.sbatch"; }
  std::string run_json() const { return root + "/run.json"; }
  std::string logs_dir() const { return root + "/logs"; }
  std::string metrics() const { return root + "/metrics.jsonl"; }
  std::string heartbeat() const { return root + "/heartbeat.json"; }
  std::string checkpoints_dir() const { return root + "/checkpoints"; }
  std::string latest_pointer() const { return root + "/checkpoints/LATEST"; }
  // Written by the job script when the job step ends: {"job_id":..,"restart":..,"exit":..}
  // (plus "requeue": "failed (scontrol exit N)" when its requeue was refused).
  std::string exit_file(const std::string& job_id, int restart) const {
    return root + "/logs/exit-" + job_id + "-" + std::to_string(restart) + ".json";
  }
  // Written by hpcai-train rank 0 once every rank has installed its stop
  // signal handlers: the job script holds a preemption signal until then.
  std::string signals_ready(const std::string& job_id, int restart) const {
    return root + "/logs/ready-" + job_id + "-" + std::to_string(restart);
  }
  // Written by hpcai-train rank 0 once its preemption checkpoint is durable:
  // the job script records a step that then ends by a signal as 75.
  std::string checkpointed_marker(const std::string& job_id, int restart) const {
    return root + "/logs/checkpointed-" + job_id + "-" + std::to_string(restart) + ".json";
  }
  // Written by hpcai-train rank 0 after the checkpoint marker when the job
  // should be requeued; the job script requeues only after the step exited 75.
  std::string requeue_request(const std::string& job_id, int restart) const {
    return root + "/logs/requeue-" + job_id + "-" + std::to_string(restart) + ".json";
  }
  // Written by hpcai-train, one per rank and start: everything that rank
  // prints (stdout and stderr, in order).  job_id is HPCAI_JOB_ID ("nojob"
  // outside a job), restart HPCAI_RESTART (docs/run-directory.md).
  std::string rank_log(int rank, const std::string& job_id, int restart) const {
    return root + "/logs/rank-" + std::to_string(rank) + "-" + job_id + "-" + std::to_string(restart) + ".log";
  }
};

// heartbeat.json: rank 0's latest progress, atomically replaced.
struct Heartbeat {
  int64_t step = 0, total_steps = 0;
  int64_t epoch = 0, epochs = 0;
  double loss = 0, lr = 0;
  double samples_per_sec = 0;
  double eta_seconds = -1;
  double val_accuracy = -1;     // -1: not evaluated yet
  std::string phase = "train";  // starting | train | eval | checkpoint | done | failed | preempted
  std::string job_id;
  int restart = 0;
  int world_size = 1;
  double updated_at = 0;        // unix seconds
  std::string note;             // phase "preempted": what happened next, e.g. "max_restarts (5) reached"

  Json ToJson() const;
  static Heartbeat FromJson(const Json& j);
};

Status WriteHeartbeat(const RunPaths& paths, const Heartbeat& hb);
// NotFound when the job has not written one yet.
Result<Heartbeat> ReadHeartbeat(const RunPaths& paths);

}  // namespace hpcai::io
