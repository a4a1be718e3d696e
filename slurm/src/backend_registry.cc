// The one place that knows which backends this build has (HPCAI_WITH_SLURM
// is read here only) and picks one.
#include <cstdlib>

#include "backends.h"
#include "hpcai/base/fs.h"

namespace hpcai::slurm {

bool HaveLibSlurm() {
#ifdef HPCAI_WITH_SLURM
  return true;
#else
  return false;
#endif
}

std::string SlurmConfPath() {
  if (const char* c = std::getenv("SLURM_CONF"); c && *c) return c;
  if (fs::Exists("/etc/slurm/slurm.conf")) return "/etc/slurm/slurm.conf";
  return "";
}

bool SlurmConfigured() { return !SlurmConfPath().empty(); }

Result<std::string> ResolveBackendName(const std::string& requested) {
  if (requested == "slurm" || requested == "local") return requested;
  if (requested == "auto" || requested.empty()) return SlurmConfigured() ? std::string("slurm") : std::string("local");
  return Status::InvalidArgument("backend '" + requested + "' is not one of auto, slurm, local");
}

Result<std::unique_ptr<Backend>> MakeBackend(const std::string& name) {
  if (name == "local") return MakeLocalBackend();
  if (name != "slurm") return Status::InvalidArgument("backend '" + name + "' is not one of slurm, local");
  std::string conf = SlurmConfPath();
  if (conf.empty())
    return Status::Unavailable(
        "the slurm backend was requested but Slurm is not configured here (no $SLURM_CONF, no "
        "/etc/slurm/slurm.conf)\n  hint: run on a cluster login node, export SLURM_CONF, or use --backend local");
  if (!fs::Exists(conf))
    return Status::Unavailable("Slurm configuration '" + conf +
                               "' does not exist\n  hint: fix $SLURM_CONF, or use --backend local");
  const char* api = std::getenv("HPCAI_SLURM_API");
  std::string want = api && *api ? api : "auto";
  if (want != "auto" && want != "cli" && want != "lib")
    return Status::InvalidArgument("$HPCAI_SLURM_API='" + want + "' is not one of auto, lib, cli");
#ifdef HPCAI_WITH_SLURM
  if (want != "cli") return MakeLibSlurmBackend();
#else
  if (want == "lib")
    return Status::FailedPrecondition("$HPCAI_SLURM_API=lib but this hpcai was built without libslurm");
#endif
  return MakeCliBackend();
}

}  // namespace hpcai::slurm
