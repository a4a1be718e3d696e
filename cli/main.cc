// hpcai: the login-node front end.  Each subcommand lives in its own file
// (cmd_<name>.cc) and registers itself through SetupX() from common.h.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string_view>

#include "common.h"
#include "hpcai/slurm/backend.h"

namespace {

// `hpcai submit SPEC` that will reach Slurm: not --dry-run, --help or the
// local backend.  Only a hint for starting Slurm's client set-up early; the
// submit command decides for itself.
bool WillSubmitToSlurm(int argc, char** argv) {
  if (argc < 2 || std::string_view(argv[1]) != "submit") return false;
  for (int i = 2; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--dry-run" || a == "-h" || a == "--help" || a == "--backend=local") return false;
    if (a == "--backend" && i + 1 < argc && std::string_view(argv[i + 1]) == "local") return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  // Slurm's client set-up (slurm.conf, plugins: ~1 ms) runs on a background
  // thread while the command line and the spec are parsed (docs/slurm.md).
  if (WillSubmitToSlurm(argc, argv)) hpcai::slurm::PrewarmSlurmApi();
  CLI::App app{"hpcai: run data-parallel training experiments on Slurm clusters.\n"
               "Write experiment.yaml, then `hpcai submit experiment.yaml`."};
  app.set_version_flag("-V,--version", std::string("hpcai ") + HPCAI_VERSION);
  app.require_subcommand(1);
  app.footer(
      "Examples:\n"
      "  hpcai init experiment.yaml                 # a commented starter spec\n"
      "  hpcai validate experiment.yaml             # check it without submitting\n"
      "  hpcai submit experiment.yaml --follow      # submit and stream progress\n"
      "  hpcai status                               # all runs, one Slurm query\n"
      "\nExit codes: 0 ok, 1 failure, 2 spec/usage error, 3 data/checkpoint error,\n"
      "4 numerical failure, 5 Slurm unreachable/refused, 64 not implemented.\n"
      "Docs: docs/ in the source tree.");

  hpcai::cli::SetupSubmit(app);
  hpcai::cli::SetupStatus(app);
  hpcai::cli::SetupLogs(app);
  hpcai::cli::SetupCancel(app);
  hpcai::cli::SetupResume(app);
  hpcai::cli::SetupValidate(app);
  hpcai::cli::SetupInit(app);
  hpcai::cli::SetupSpec(app);
  hpcai::cli::SetupData(app);
  hpcai::cli::SetupCkpt(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2 (spec/usage); --help/--version exit 0.
    int rc = app.exit(e);
    if (rc != 0 && dynamic_cast<const CLI::RuntimeError*>(&e) == nullptr) return 2;
    return rc;
  }
  return 0;
}
