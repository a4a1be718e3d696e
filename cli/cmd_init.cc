// `hpcai init [--template mlp|cnn|linear] [FILE] [--force]`: writes a fully
// commented starter spec (every key with its default and a one-line doc).
#include <iostream>

#include "common.h"
#include "hpcai/base/fs.h"
#include "hpcai/configs/spec_docs.h"

namespace hpcai::cli {
namespace {

struct InitOptions {
  std::string file = "experiment.yaml";
  std::string templ = "mlp";
  bool force = false;
};

int RunInit(const InitOptions& o) {
  auto text = StarterSpec(o.templ);
  if (!text.ok()) return ReportError(text.status());
  if (o.file == "-") {
    std::cout << *text;
    return exit_code::kOk;
  }
  if (fs::IsDir(o.file)) {
    return ReportError(Status::InvalidArgument("'" + o.file + "' is a directory; give a file name, e.g. " +
                                               fs::Join(o.file, "experiment.yaml")));
  }
  if (fs::Exists(o.file) && !o.force) {
    std::cerr << Colorize("hpcai: error: ", "31", UseColor(2)) << "'" << o.file
              << "' already exists; not overwriting it (use --force to replace it, or give another FILE)\n";
    return exit_code::kFailure;
  }
  Status st = fs::AtomicWriteFile(o.file, *text);
  if (!st.ok()) return ReportError(st);
  std::cout << "wrote " << o.file << " (template " << o.templ << ")\n"
            << "next: edit it, then  hpcai validate " << o.file << "  and  hpcai submit " << o.file << "\n";
  return exit_code::kOk;
}

}  // namespace

void SetupInit(CLI::App& root) {
  auto opts = std::make_shared<InitOptions>();
  auto* app = root.add_subcommand("init", "Write a fully commented starter spec");
  app->add_option("file", opts->file, "where to write it; - = stdout")->capture_default_str();
  app->add_option("-t,--template", opts->templ, "starter model")
      ->check(CLI::IsMember({"mlp", "cnn", "linear"}))
      ->capture_default_str();
  app->add_flag("-f,--force", opts->force, "overwrite FILE if it exists");
  app->footer(
      "Examples:\n"
      "  hpcai init                               # experiment.yaml, an MLP on Fashion-MNIST\n"
      "  hpcai init --template cnn cnn.yaml\n"
      "  hpcai init --template linear -           # print to stdout");
  app->callback([opts] { SetExitCode(RunInit(*opts)); });
}

}  // namespace hpcai::cli
