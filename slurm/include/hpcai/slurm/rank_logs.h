// Per-rank logs of a run as `hpcai logs RUN --rank N` sees them.  hpcai-train
// writes logs/rank-<rank>-<job>-<restart>.log (io::RunPaths::rank_log,
// docs/run-directory.md); these helpers find and check them.
#pragma once

#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::slurm {

// The run's number of ranks (resources.nodes x resources.tasks_per_node) from
// its spec.yaml.  Corrupt with the path when spec.yaml does not load.
Result<int> RunWorldSize(const std::string& run_dir);

// OK when 0 <= rank < world_size; else InvalidArgument (exit 2) naming the
// valid range, e.g. "--rank 2: run R has 2 ranks (0..1)".
Status CheckRank(const std::string& run_id, int rank, int world_size);

// The rank log of one start (job id as in run.json, restart count).
std::string RankLogPath(const std::string& run_dir, int rank, const std::string& job_id, int restart);

// Ranks that have a log for this start, ascending.
std::vector<int> RanksWithLogs(const std::string& run_dir, const std::string& job_id, int restart);

}  // namespace hpcai::slurm
