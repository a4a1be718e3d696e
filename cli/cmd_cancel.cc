// `hpcai cancel`: cancel runs (whole sweeps or single tasks).
// Not implemented yet (tracked by issue 4); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupCancel(CLI::App& root) {
  auto* app = root.add_subcommand("cancel", "Cancel runs (whole sweeps or single tasks) [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai cancel fmnist-mlp-20261122-101500-ab12");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai cancel` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
