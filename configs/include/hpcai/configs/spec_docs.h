// Documentation and starter specs generated from the one schema table that
// also drives parsing (so docs, `hpcai spec --defaults`, `hpcai init` and
// the parser cannot drift apart; tests/configs/docs_test.cc checks
// docs/spec.md against SpecReferenceMarkdown()).
#pragma once

#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai {

// Every key with its default and a one-line doc, as commented YAML
// (`hpcai spec --defaults`).  The output is itself a valid spec.
std::string SpecDefaultsYaml();

// The schema as Markdown tables (key, type, default, description), one per
// section: the generated part of docs/spec.md (`hpcai spec --markdown`).
std::string SpecReferenceMarkdown();

// Names accepted by StarterSpec: "mlp", "cnn", "linear".
const std::vector<std::string>& StarterTemplates();

// A fully commented starter spec for `hpcai init`.  InvalidArgument for an
// unknown template (the message lists the valid ones).
Result<std::string> StarterSpec(const std::string& template_name);

}  // namespace hpcai
