// `hpcai ckpt`: list and verify checkpoints.
// Not implemented yet (tracked by issue 7); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupCkpt(CLI::App& root) {
  auto* app = root.add_subcommand("ckpt", "List and verify checkpoints [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai ckpt list RUN");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai ckpt` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
