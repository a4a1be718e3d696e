// `hpcai init`: write a commented starter spec.
// Not implemented yet (tracked by issue 3); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupInit(CLI::App& root) {
  auto* app = root.add_subcommand("init", "Write a commented starter spec [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai init --template cnn experiment.yaml");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai init` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
