// Per-rank log files of hpcai-train: logs/rank-<rank>-<job>-<restart>.log
// (docs/run-directory.md, read by `hpcai logs RUN --rank N`).
#pragma once

#include <string>

#include "hpcai/base/status.h"

namespace hpcai::runtime {

// The <job> and <restart> parts of a rank log's name, from the values of
// HPCAI_JOB_ID and HPCAI_RESTART that the job script exports (either may be
// null).  Outside a job: "nojob" and 0.  Characters other than letters,
// digits, '.', '_' and '-' in the job id become '_' (it names a file);
// a restart that is not a non-negative integer counts as 0.
struct RankLogName {
  std::string job_id;
  int restart = 0;
};
RankLogName RankLogNameFromEnv(const char* job_id, const char* restart);

// From now on every byte this process writes through the C stdio streams
// stdout and stderr still goes to the original stream (fd 1 / fd 2: the job
// log, unchanged) and is also appended to `path`, both streams into the one
// file in the order written.  `first_line` (no newline) is written to the file
// only.  stdout becomes line buffered, stderr stays unbuffered, so a line is
// in the file once it is complete and exit() flushes the rest.  Bytes written
// to fd 1/2 directly (the MPI library, a crash report) reach only the job log.
//
// Creates the directory of `path` if missing.  On failure returns the error
// and leaves stdio untouched (the caller warns and goes on).  Later write
// errors on the file are ignored: the job log stays authoritative.  Call
// once, before other threads print.
Status TeeStdioToFile(const std::string& path, const std::string& first_line);

}  // namespace hpcai::runtime
