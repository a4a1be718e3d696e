// Process helpers of the local backend (internal).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::slurm {

// Starts `bash script_path` detached: own session and process group, cwd,
// stdin /dev/null, stdout/stderr appended to log_path, SLURM_* removed from
// the environment, `extra_env` ("K=V") added.  Returns the pid (= pgid).
Result<int64_t> LaunchDetached(const std::string& script_path, const std::string& cwd, const std::string& log_path,
                               const std::vector<std::string>& extra_env);

struct LocalProcess {
  int64_t pid = 0;
  int64_t ppid = 0;
  int64_t pgid = 0;
  char state = '?';
  int64_t elapsed_s = -1;
  std::string cmdline;  // NULs replaced by spaces
};
// A live (not zombie) process, from /proc.
std::optional<LocalProcess> InspectProcess(int64_t pid);

// True while a non-zombie member of the process group exists.
bool GroupAlive(int64_t pgid);

// Every descendant of `pid` (children, their children, ...), from /proc.
std::vector<int64_t> Descendants(int64_t pid);

// Cancels a local job: TERM to its script (which forwards it to the step),
// then KILL to every remaining descendant after `grace`.
Status TerminateJob(int64_t pid, std::chrono::milliseconds grace);

// TERM to the group, then KILL when members remain after `grace`.
Status KillProcessGroup(int64_t pgid, std::chrono::milliseconds grace);

}  // namespace hpcai::slurm
