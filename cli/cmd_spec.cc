// `hpcai spec`: print the spec schema with defaults and docs.
// Not implemented yet (tracked by issue 3); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupSpec(CLI::App& root) {
  auto* app = root.add_subcommand("spec", "Print the spec schema with defaults and docs [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai spec --defaults");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai spec` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
