// `hpcai submit`: submit an experiment to slurm (or the local backend).
// Not implemented yet (tracked by issue 4); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupSubmit(CLI::App& root) {
  auto* app = root.add_subcommand("submit", "Submit an experiment to Slurm (or the local backend) [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai submit configs/examples/fashion-mnist-mlp.yaml --follow");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai submit` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
