// Running a command and capturing its output (internal to slurm/).
#pragma once

#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::slurm {

struct CommandResult {
  int exit_code = -1;  // -1 when it did not exit normally (signal) or could not start
  std::string out, err;
};

// Runs argv[0] (PATH lookup) with stdin from /dev/null and waits.  NotFound
// when the program does not exist; IOError if it cannot be started.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv);

}  // namespace hpcai::slurm
