// Cheaper durability for submission (internal to slurm/): files are first
// made visible and whole (temp + rename, no fsync), then made durable
// together by one barrier of concurrent fsyncs.  Used where a crash before the
// barrier loses nothing that matters (the job does not exist yet); everything
// else uses fs::AtomicWriteFile.
#pragma once

#include <future>
#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::slurm {

// Writes `path.tmp.<pid>` and renames it over `path`: readers see the old or
// the new file, never a torn one.  Not durable until DurableBarrier.
Status WriteVisible(const std::string& path, const std::string& data);

// fsyncs every file and directory in `paths`, one after the other (threads
// per path cost more than they overlapped; durable.cc).  Returns the first failure.
Status DurableBarrier(const std::vector<std::string>& paths);

// DurableBarrier on a background thread: submission starts it before the
// Slurm RPC so the fsyncs overlap the controller's round trip.
std::future<Status> DurableBarrierAsync(std::vector<std::string> paths);

}  // namespace hpcai::slurm
