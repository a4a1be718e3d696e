// Stop signals (preemption, time limit): the handler ONLY records the signal
// number (async-signal-safe, sigaction); the training loop reads the flag at a
// step boundary and the ranks agree on it there.
#pragma once

#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::runtime {

// "USR1" | "USR2" | "TERM" | "INT" | "HUP" (with or without the SIG prefix)
// -> the signal number; InvalidArgument naming the accepted names otherwise.
Result<int> SignalNumber(const std::string& name);

// Installs the recording handler for each named signal (SA_RESTART, so
// interrupted system calls resume).  Idempotent.  Call from the main thread
// before other threads start, so they inherit nothing surprising.
Status InstallStopSignals(const std::vector<std::string>& names);

// The first stop signal received since the last reset, 0 if none.  Safe to
// call any time (reads a sig_atomic_t).
int StopSignalReceived();
void ResetStopSignal();

}  // namespace hpcai::runtime
