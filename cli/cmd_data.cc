// `hpcai data`: convert, synthesise and inspect hdf5 datasets.
// Not implemented yet (tracked by issue 5); exits 64 with a clear message.
#include <iostream>

#include "common.h"

namespace hpcai::cli {

void SetupData(CLI::App& root) {
  auto* app = root.add_subcommand("data", "Convert, synthesise and inspect HDF5 datasets [not implemented yet]");
  app->allow_extras();
  AddExample(app, "hpcai data convert --from idx /usr/share/datasets/fashion-mnist --out data/fmnist");
  app->callback([] {
    std::cerr << "hpcai: error: `hpcai data` is not implemented in this build yet\n";
    Exit(exit_code::kNotImplemented);
  });
}

}  // namespace hpcai::cli
