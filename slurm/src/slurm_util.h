// Helpers shared by the Slurm backends and the status logic (internal).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::slurm {

// How to treat an error message from Slurm (libslurm's slurm_strerror or a
// command's stderr).
enum class SlurmErrorKind {
  kTransient,    // controller busy / socket timeout / "try again": retry with backoff
  kUnreachable,  // no controller answered (libslurm already retried for MessageTimeout)
  kRefused,      // a definite answer: bad partition, limits, invalid request
};
SlurmErrorKind ClassifySlurmError(const std::string& message);

// A refusal: Slurm's own message, plus a hint for the common causes.
Status SlurmRefusal(const std::string& what, const std::string& slurm_message);
// The controller did not answer: exit 5 and what to check.
Status SlurmUnreachable(const std::string& what, const std::string& slurm_message);

// Retry policy for transient errors: `attempts` tries, sleeping
// first_delay, 2x, 4x... between them.  $HPCAI_SLURM_RETRIES overrides attempts.
struct RetryPolicy {
  int attempts = 4;
  std::chrono::milliseconds first_delay{500};
};
RetryPolicy DefaultRetryPolicy();

// Runs `op` until it succeeds or fails with a non-transient error.  `op`
// returns OK; or Refused/Unavailable with the raw Slurm message in
// *slurm_message, which is classified; any other error is returned as is.
// Transient failures are retried per `policy`; when they persist the last
// error is returned as Unavailable.  `sleep` is injectable for tests.
Status RetryTransient(const RetryPolicy& policy, const std::string& what,
                      const std::function<Status(std::string* slurm_message)>& op,
                      const std::function<void(std::chrono::milliseconds)>& sleep = {});

// "USR1", "SIGUSR1", "10" -> number; 0 when unknown.
int ParseSignal(const std::string& name);

// Slurm durations: "M:SS", "H:MM:SS", "D-HH:MM:SS" -> seconds; -1 on
// "UNLIMITED"/"INVALID"/"N/A"/unparsable.
int64_t ParseSlurmDuration(const std::string& text);

// A key of slurm.conf (case-insensitive), "" if absent.  Follows no Includes.
std::string SlurmConfValue(const std::string& conf_path, const std::string& key);

// jobcomp/filetxt records (key=value fields), the last one per job, for the
// wanted ids only: "123", or "123_4" for an array task (its record carries
// ArrayJobId=123 ArrayTaskId=4).  A missing file yields an empty map.
using JobCompRecord = std::map<std::string, std::string>;
std::map<std::string, JobCompRecord> LoadJobComp(const std::string& jobcomp_path,
                                                 const std::set<std::string>& wanted);

// True for Slurm states after which the job will not run again by itself.
bool IsFinalSlurmState(const std::string& state);

}  // namespace hpcai::slurm
