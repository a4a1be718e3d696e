// hpcai: the login-node front end.  Each subcommand lives in its own file
// (cmd_<name>.cc) and registers itself through SetupX() from common.h.
#include <CLI/CLI.hpp>

#include <iostream>
#include <string_view>

#include "common.h"

int main(int argc, char** argv) {
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

  // `hpcai CMD ...` builds only CMD's options (the whole tree takes ~0.2 ms,
  // a twentieth of a submission); anything else (no command, --help,
  // --version, a typo) gets every command, so help and errors list them all.
  struct Command {
    std::string_view name;
    void (*setup)(CLI::App&);
  };
  static constexpr Command kCommands[] = {
      {"submit", hpcai::cli::SetupSubmit},     {"status", hpcai::cli::SetupStatus},
      {"logs", hpcai::cli::SetupLogs},         {"cancel", hpcai::cli::SetupCancel},
      {"resume", hpcai::cli::SetupResume},     {"validate", hpcai::cli::SetupValidate},
      {"init", hpcai::cli::SetupInit},         {"spec", hpcai::cli::SetupSpec},
      {"data", hpcai::cli::SetupData},         {"ckpt", hpcai::cli::SetupCkpt},
  };
  const Command* only = nullptr;
  for (const Command& c : kCommands) {
    if (argc >= 2 && c.name == argv[1]) only = &c;
  }
  if (only != nullptr) {
    only->setup(app);
  } else {
    for (const Command& c : kCommands) c.setup(app);
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // Usage errors exit 2 (spec/usage); --help/--version exit 0.
    int rc = app.exit(e);
    if (rc != 0 && dynamic_cast<const CLI::RuntimeError*>(&e) == nullptr) return 2;
    return rc;
  }
  return hpcai::cli::ExitCodeSet();
}
