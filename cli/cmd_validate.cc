// `hpcai validate`: validate a spec and print a summary.
// Not implemented yet (tracked by issue 3); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupValidate(CLI::App& root) {
  auto* app = root.add_subcommand("validate", "Validate a spec and print a summary [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai validate experiment.yaml --set training.global_batch=512");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai validate` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
