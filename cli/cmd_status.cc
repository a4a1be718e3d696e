// `hpcai status`: show the state and progress of runs.
// Not implemented yet (tracked by issue 4); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupStatus(CLI::App& root) {
  auto* app = root.add_subcommand("status", "Show the state and progress of runs [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai status --all --json");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai status` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
