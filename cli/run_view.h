// Pieces shared by `hpcai submit --follow`, `status`, `logs` and `cancel`
// (cli/ only): the status table and its JSON, log segments, following a run.
#pragma once

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "hpcai/base/json.h"
#include "hpcai/io/rundir.h"
#include "hpcai/slurm/runs.h"

namespace hpcai::cli {

// "42s", "3m07s", "2h05m", "1d03h"; "-" for negative.
std::string FormatDuration(int64_t seconds);

// One row of `hpcai status`: the run state plus rank 0's heartbeat.
struct RunRow {
  slurm::RunStatus status;
  std::optional<io::Heartbeat> heartbeat;
  int depth = 0;  // 1 for the tasks listed under their sweep
};

// Reads heartbeats and orders rows: by creation time, sweep tasks under their sweep.
std::vector<RunRow> MakeRows(const std::vector<slurm::RunStatus>& runs);
void PrintStatusTable(std::ostream& out, const std::vector<RunRow>& rows, bool color);
// The documented, stable JSON of `hpcai status --json` (docs/slurm.md).
Json StatusJson(const std::vector<RunRow>& rows, const slurm::StatusResult& result);

// One restart of one job of a run: logs/slurm-<job>-<restart>.out|err.
struct LogSegment {
  int attempt = 0;     // index into run.json attempts
  std::string job_id;
  int restart = 0;
  std::string out, err;           // the job's own output files
  std::string slurm_out, slurm_err;  // Slurm's messages for the job (all restarts)
  std::string exit_file;             // logs/exit-<job>-<restart>.json (may not exist yet)
};
// Segments in order (attempt, then restart).  Only files that exist.
std::vector<LogSegment> ListLogSegments(const std::string& run_dir, const slurm::RunRecord& record);

struct FollowOptions {
  bool stderr_stream = false;  // follow .err instead of .out
  int rank = -1;               // >= 0: follow that rank's own log (logs/rank-<rank>-<job>-<restart>.log)
  int initial_lines = 10;      // of the current segment; -1 = all
  bool progress = false;       // heartbeat progress lines (to stderr)
  double poll_seconds = 0.25;
  double state_seconds = 2.0;  // how often the run state is queried (one batched query)
};
// Streams the run's log across restarts and attempts until the run reaches a
// final state (SIGINT stops it too).  Returns the final status.
slurm::RunStatus FollowRun(const slurm::IndexEntry& entry, const FollowOptions& options, std::ostream& out);

// The process exit code for a run's outcome (`submit --follow`):
// COMPLETED 0, PREEMPTED-with-checkpoint 75, FAILED its exit code (1 if
// unknown or >255), everything else 1.
int OutcomeExitCode(const slurm::RunStatus& status);

// The last n lines of text (n < 0: all of it; 0: none).  A final newline
// does not count as the start of an empty line.
std::string LastLines(const std::string& text, int n);

// Coloured state for terminals.
std::string StateColored(const std::string& state, bool color);

}  // namespace hpcai::cli
