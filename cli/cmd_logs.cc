// `hpcai logs`: print or follow a run's logs.
// Not implemented yet (tracked by issue 4); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupLogs(CLI::App& root) {
  auto* app = root.add_subcommand("logs", "Print or follow a run's logs [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai logs fmnist-mlp-20261122-101500-ab12 -f");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai logs` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
