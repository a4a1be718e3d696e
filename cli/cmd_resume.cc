// `hpcai resume`: continue a finished or interrupted run from its latest checkpoint.
// Not implemented yet (tracked by issue 7); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupResume(CLI::App& root) {
  auto* app = root.add_subcommand("resume", "Continue a finished or interrupted run from its latest checkpoint [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai resume RUN --set training.epochs=20 --follow");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai resume` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
