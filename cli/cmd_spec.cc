// `hpcai spec`: the schema (`--defaults`, `--markdown`) or a resolved spec
// (`hpcai spec SPEC [--set k=v]... [--expand]`), printed to stdout.
#include <iostream>

#include "build_info.h"
#include "common.h"
#include "hpcai/configs/spec.h"
#include "hpcai/configs/spec_docs.h"

namespace hpcai::cli {
namespace {

struct SpecOptions {
  bool defaults = false;
  bool markdown = false;
  bool expand = false;
  bool hash = false;
  std::string spec;
  std::vector<std::string> sets;
};

int RunSpec(const SpecOptions& o) {
  if (o.defaults) {
    std::cout << SpecDefaultsYaml();
    return exit_code::kOk;
  }
  if (o.markdown) {
    std::cout << SpecReferenceMarkdown();
    return exit_code::kOk;
  }
  if (o.spec.empty()) {
    std::cerr << "hpcai: error: give --defaults, --markdown or a SPEC file (see hpcai spec --help)\n";
    return exit_code::kSpecError;
  }
  SpecLoadOptions lo;
  lo.overrides = o.sets;
  lo.cuda_available = BuildHasCuda();
  SpecLoadResult r = LoadSpecFile(o.spec, lo);
  if (!r.ok()) {
    std::cerr << r.FormatAll();
    return exit_code::kSpecError;
  }
  if (o.hash) {
    std::cout << SpecHash(*r.spec) << "\n";
    return exit_code::kOk;
  }
  if (!o.expand) {
    std::cout << CanonicalYaml(*r.spec);
    return exit_code::kOk;
  }
  auto points = ExpandSweep(*r.spec);
  if (!points.ok()) return ReportError(points.status());
  for (size_t i = 0; i < points->size(); ++i) {
    if (i) std::cout << "---\n";
    std::cout << CanonicalYaml((*points)[i], false);
  }
  return exit_code::kOk;
}

}  // namespace

void SetupSpec(CLI::App& root) {
  auto opts = std::make_shared<SpecOptions>();
  auto* app = root.add_subcommand("spec", "Print the spec schema with defaults and docs, or a resolved spec");
  app->add_flag("--defaults", opts->defaults, "every key with its default and a one-line doc (commented YAML)");
  app->add_flag("--markdown", opts->markdown, "the schema as Markdown tables (the generated part of docs/spec.md)");
  app->add_option("spec", opts->spec, "a spec to resolve: prints its canonical form (all defaults filled)");
  app->add_option("--set", opts->sets, "override a key with a YAML value (repeatable)")->allow_extra_args(false);
  app->add_flag("--expand", opts->expand, "print every sweep point (documents separated by ---)");
  app->add_flag("--hash", opts->hash, "print only the spec hash (sha256 of the canonical form)");
  app->footer(
      "Examples:\n"
      "  hpcai spec --defaults\n"
      "  hpcai spec experiment.yaml --set optimizer.lr=0.1     # resolved, canonical YAML\n"
      "  hpcai spec experiment.yaml --expand                   # one document per sweep point");
  app->callback([opts] { SetExitCode(RunSpec(*opts)); });
}

}  // namespace hpcai::cli
