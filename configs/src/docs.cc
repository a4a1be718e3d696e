// Generated documentation: `hpcai spec --defaults`, docs/spec.md's tables,
// and `hpcai init` starter specs, all from the schema table.
#include "emit.h"
#include "hpcai/configs/spec_docs.h"
#include "schema.h"

namespace hpcai {
namespace {

std::string MdCell(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '<') out += "&lt;";
    else if (c == '>') out += "&gt;";
    else out += c;
  }
  return out;
}

}  // namespace

std::string SpecDefaultsYaml() {
  spec_internal::EmitOptions o;
  o.comments = true;
  o.header =
      "# hpcai spec --defaults: every key of an experiment spec with its default value.\n"
      "# Omitted keys take these values; relative paths resolve against the directory you\n"
      "# run hpcai in.  String values may use ${VAR} or ${VAR:-default} ($$ = a literal $).\n"
      "# Types and limits: docs/spec.md.\n";
  return spec_internal::EmitSpec(ResolvedSpec{}, o);
}

std::string SpecReferenceMarkdown() {
  const ResolvedSpec defaults;
  const std::string header = "| key | type | default | description |\n|---|---|---|---|\n";
  auto row = [&](const spec_internal::Field& f) {
    return "| `" + f.path + "` | " + MdCell(f.TypeDoc()) + " | `" + MdCell(spec_internal::EmitFlow(f, defaults)) +
           "` | " + MdCell(f.doc) + " |\n";
  };
  // Top-level keys in one table, then one table per section (schema order).
  std::string out = "\n### Top-level keys\n\n" + header;
  for (const auto& f : spec_internal::Fields()) {
    if (f.section().empty()) out += row(f);
  }
  std::string current;
  for (const auto& f : spec_internal::Fields()) {
    const std::string section = f.section();
    if (section.empty()) continue;
    if (section != current) {
      current = section;
      const auto* s = spec_internal::FindSection(section);
      out += "\n### `" + section + "`: " + MdCell(s ? s->doc : "") + "\n\n" + header;
    }
    out += row(f);
  }
  const auto* sweep = spec_internal::FindSection("sweep");
  out += "\n### `sweep`: " + MdCell(sweep ? sweep->doc : std::string()) + "\n\n" + header;
  out += "| `sweep.<key.path>` | list of values of that key | none | values to try for any key above "
         "except `name`; the grid is the cartesian product, first key slowest |\n";
  out += "| `sweep.max_parallel` | integer 0..100000 | `0` | at most this many points run at once (job "
         "array `%N`); 0 = no limit |\n";
  return out;
}

const std::vector<std::string>& StarterTemplates() {
  static const std::vector<std::string> kTemplates = {"mlp", "cnn", "linear"};
  return kTemplates;
}

Result<std::string> StarterSpec(const std::string& template_name) {
  ResolvedSpec s;
  if (template_name == "mlp") {
    s.name = "fmnist-mlp";
    s.model.type = "mlp";
    s.model.hidden = {256, 128};
  } else if (template_name == "cnn") {
    s.name = "fmnist-cnn";
    s.model.type = "cnn";
    s.model.hidden = {128};
    ConvLayerSpec a, b;
    a.filters = 32;
    b.filters = 64;
    s.model.conv = {a, b};
  } else if (template_name == "linear") {
    s.name = "fmnist-linear";
    s.model.type = "linear";
    s.model.hidden.clear();
  } else {
    std::string list;
    for (const auto& t : StarterTemplates()) list += (list.empty() ? "" : ", ") + t;
    return Status::InvalidArgument("unknown template '" + template_name + "' (choose one of: " + list + ")");
  }
  s.environment.env = {{"OMP_PROC_BIND", "close"}};
  spec_internal::EmitOptions o;
  o.comments = true;
  o.header = "# hpcai experiment spec (starter: " + template_name +
             "), written by `hpcai init`.\n"
             "# Every key is shown with its default and a one-line doc; delete what you do not need.\n"
             "#   check it:   hpcai validate <this file>        submit it:  hpcai submit <this file>\n"
             "#   reference:  hpcai spec --defaults, docs/spec.md\n"
             "# data.train / data.val are dataset directories (HDF5 shards + manifest.json,\n"
             "# docs/data-format.md); relative paths resolve against the directory you run hpcai in.\n"
             "# Strings may use ${VAR} or ${VAR:-default} from the environment; $$ is a literal $.\n";
  return spec_internal::EmitSpec(s, o);
}

}  // namespace hpcai
