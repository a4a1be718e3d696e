// Per-rank logs (contract in rank_logs.h).
#include "hpcai/slurm/rank_logs.h"

#include <algorithm>
#include <cstdlib>

#include "hpcai/base/fs.h"
#include "hpcai/configs/spec.h"
#include "hpcai/io/rundir.h"

namespace hpcai::slurm {

Result<int> RunWorldSize(const std::string& run_dir) {
  const std::string path = io::RunPaths{run_dir}.spec();
  SpecLoadOptions lo;
  lo.check_data = false;
  lo.cuda_available = true;  // only the resources are read; a GPU spec must load in any build
  SpecLoadResult r = LoadSpecFile(path, lo);
  if (!r.ok()) {
    if (!fs::Exists(path)) return Status::NotFound("the run has no spec.yaml (" + path + ")");
    return Status::Corrupt("the run's spec.yaml does not load (" + path + "):\n" + r.FormatAll());
  }
  return r.spec->resources.world_size();
}

Status CheckRank(const std::string& run_id, int rank, int world_size) {
  if (rank >= 0 && rank < world_size) return Status::OK();
  return Status::InvalidArgument("--rank " + std::to_string(rank) + ": run " + run_id + " has " +
                                 std::to_string(world_size) + (world_size == 1 ? " rank (0)" : " ranks (0.." +
                                 std::to_string(world_size - 1) + ")") +
                                 "; its world size is resources.nodes x resources.tasks_per_node");
}

std::string RankLogPath(const std::string& run_dir, int rank, const std::string& job_id, int restart) {
  return io::RunPaths{run_dir}.rank_log(rank, job_id, restart);
}

std::vector<int> RanksWithLogs(const std::string& run_dir, const std::string& job_id, int restart) {
  std::vector<int> ranks;
  auto names = fs::ListDir(io::RunPaths{run_dir}.logs_dir());
  if (!names.ok()) return ranks;
  const std::string prefix = "rank-";
  const std::string suffix = "-" + job_id + "-" + std::to_string(restart) + ".log";
  for (const std::string& n : *names) {
    if (n.size() <= prefix.size() + suffix.size() || n.compare(0, prefix.size(), prefix) != 0 ||
        n.compare(n.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    std::string r = n.substr(prefix.size(), n.size() - prefix.size() - suffix.size());
    if (r.empty() || r.size() > 9 || r.find_first_not_of("0123456789") != std::string::npos) continue;
    ranks.push_back(std::atoi(r.c_str()));
  }
  std::sort(ranks.begin(), ranks.end());
  return ranks;
}

}  // namespace hpcai::slurm
