#include "hpcai/runtime/signals.h"

#include <cerrno>
#include <csignal>
#include <cstring>

namespace hpcai::runtime {
namespace {

volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void RecordStopSignal(int sig) {
  // Only the first one counts: a TERM after USR1 must not hide why we stopped.
  if (g_stop_signal == 0) g_stop_signal = sig;
}

}  // namespace

Result<int> SignalNumber(const std::string& name) {
  std::string n = name;
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  if (n == "USR1") return SIGUSR1;
  if (n == "USR2") return SIGUSR2;
  if (n == "TERM") return SIGTERM;
  if (n == "INT") return SIGINT;
  if (n == "HUP") return SIGHUP;
  return Status::InvalidArgument("unknown stop signal '" + name + "' (expected USR1, USR2, TERM, INT or HUP)");
}

Status InstallStopSignals(const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    HPCAI_ASSIGN_OR_RETURN(int sig, SignalNumber(name));
    struct sigaction sa;
    std::memset(&sa, 0, sizeof(sa));
    sa.sa_handler = RecordStopSignal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    if (sigaction(sig, &sa, nullptr) != 0) {
      return Status::Internal("sigaction(" + name + ") failed: " + std::strerror(errno));
    }
  }
  return Status::OK();
}

int StopSignalReceived() { return static_cast<int>(g_stop_signal); }
void ResetStopSignal() { g_stop_signal = 0; }

}  // namespace hpcai::runtime
