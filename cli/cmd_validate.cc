// `hpcai validate SPEC [--set key.path=value]... [--json] [--no-data]`:
// loads and checks a spec exactly as `hpcai submit` would, without touching
// Slurm or writing anything.  Prints "ok" and a one-screen summary, or every
// problem as file:line:col with the line and a caret (exit 2; 3 when the
// data set itself is broken).
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include "build_info.h"
#include "common.h"
#include "hpcai/base/json.h"
#include "hpcai/configs/spec.h"
#include "spec_data_check.h"

namespace hpcai::cli {
namespace {

struct ValidateOptions {
  std::string spec;
  std::vector<std::string> sets;
  bool json = false;
  bool no_data = false;
};

std::string Thousands(int64_t v) {
  const std::string digits = std::to_string(v < 0 ? -v : v);
  std::string out = v < 0 ? "-" : "";
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

Json DiagnosticsJson(const SpecLoadResult& r) {
  Json errors = Json::MakeArray();
  for (const auto& d : r.diagnostics) {
    Json e = Json::MakeObject();
    e.set("file", d.file);
    e.set("line", d.line);
    e.set("column", d.column);
    e.set("key", d.key_path);
    e.set("message", d.message);
    errors.push_back(e);
  }
  return errors;
}

// Loads SPEC ("-" = stdin).
SpecLoadResult Load(const ValidateOptions& o, const SpecLoadOptions& lo) {
  if (o.spec != "-") return LoadSpecFile(o.spec, lo);
  std::string text;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, stdin)) > 0 && text.size() <= (size_t{1} << 20)) text.append(buf, n);
  return LoadSpecText(text, "<stdin>", lo);
}

int RunValidate(const ValidateOptions& o) {
  SpecLoadOptions lo;
  lo.overrides = o.sets;
  lo.cuda_available = BuildHasCuda();
  lo.check_data = !o.no_data;
  SpecLoadResult r = Load(o, lo);
  if (!r.ok()) {
    if (o.json) {
      Json out = Json::MakeObject();
      out.set("ok", false);
      out.set("spec", o.spec);
      out.set("errors", DiagnosticsJson(r));
      std::cout << out.dump(2) << "\n";
    } else {
      std::cerr << r.FormatAll();
      size_t n = r.diagnostics.size();
      std::cerr << Colorize("hpcai: " + std::to_string(n) + (n == 1 ? " problem" : " problems") + " in " +
                                (o.spec == "-" ? std::string("<stdin>") : o.spec),
                            "31", UseColor(STDERR_FILENO))
                << "\n";
    }
    return exit_code::kSpecError;
  }
  const ResolvedSpec& spec = *r.spec;

  // Data checks, per sweep point (points may change the model or the data).
  auto points = ExpandSweep(spec);
  if (!points.ok()) {
    return ReportError(points.status());
  }
  DataCheckReport data;
  Status data_status;
  if (lo.check_data) {
    for (size_t i = 0; i < points->size() && data_status.ok(); ++i) {
      DataCheckReport rep;
      data_status = CheckSpecData((*points)[i], &rep);
      if (!data_status.ok() && points->size() > 1) {
        data_status = data_status.WithContext("sweep point " + std::to_string(i) + " (" + (*points)[i].name + ")");
      }
      if (i == 0) data = rep;
    }
  } else {
    data.note = "not checked (--no-data)";
  }
  if (!data_status.ok()) {
    if (o.json) {
      Json out = Json::MakeObject();
      out.set("ok", false);
      out.set("spec", o.spec);
      Json e = Json::MakeObject();
      e.set("file", o.spec);
      e.set("key", "data");
      e.set("message", data_status.message());
      Json errors = Json::MakeArray();
      errors.push_back(e);
      out.set("errors", errors);
      std::cout << out.dump(2) << "\n";
      return ExitCodeFor(data_status);
    }
    return ReportError(data_status);
  }

  const auto& res = spec.resources;
  const int world = res.world_size();
  const int64_t per_rank = spec.training.global_batch / world;
  const int64_t npoints = SweepPoints(spec.sweep);
  const std::string hash = SpecHash(spec);
  const std::vector<std::string> backends = BuildBackends();

  if (o.json) {
    Json out = Json::MakeObject();
    out.set("ok", true);
    out.set("spec", o.spec);
    out.set("name", spec.name);
    out.set("hash", hash);
    out.set("world_size", world);
    out.set("global_batch", spec.training.global_batch);
    out.set("per_rank_batch", per_rank);
    out.set("data_checked", data.checked);
    if (!data.note.empty()) out.set("data_note", data.note);
    out.set("train_samples", data.checked ? Json(data.train_samples) : Json());
    out.set("steps_per_epoch", data.checked ? Json(data.steps_per_epoch) : Json());
    out.set("total_steps", data.checked ? Json(data.total_steps) : Json());
    out.set("parameters", data.checked ? Json(data.model.parameters) : Json());
    out.set("checkpoint_bytes", data.checked ? Json(data.model.checkpoint_bytes) : Json());
    out.set("sweep_points", npoints);
    Json b = Json::MakeArray();
    for (const auto& x : backends) b.push_back(x);
    out.set("build_backends", b);
    std::cout << out.dump(2) << "\n";
    return exit_code::kOk;
  }

  std::ostringstream s;
  auto row = [&](const std::string& k, const std::string& v) {
    s << "  " << k << std::string(k.size() < 12 ? 12 - k.size() : 1, ' ') << v << "\n";
  };
  s << Colorize("ok", "32", UseColor(STDOUT_FILENO)) << ": " << (o.spec == "-" ? "<stdin>" : o.spec) << " ("
    << spec.name << ")\n";
  row("ranks", std::to_string(world) + " = " + std::to_string(res.nodes) + (res.nodes == 1 ? " node" : " nodes") +
                   " x " + std::to_string(res.tasks_per_node) + " tasks, " + std::to_string(res.cpus_per_task) +
                   " cpu" + (res.cpus_per_task == 1 ? "" : "s") + " per task, " +
                   (res.gpus_per_node > 0 ? std::to_string(res.gpus_per_node) + " GPUs per node" : "no GPUs"));
  row("batch", "global " + std::to_string(spec.training.global_batch) + " = " + std::to_string(per_rank) + " per rank");
  if (data.checked) {
    row("data", Thousands(data.train_samples) + " train" +
                    (data.val_samples >= 0 ? " / " + Thousands(data.val_samples) + " val" : std::string()) +
                    " samples of " + ShapeText(data.sample_shape) + " " + data.dtype + ", " +
                    std::to_string(data.num_classes) + " classes");
    row("steps", Thousands(data.steps_per_epoch) + " per epoch x " + std::to_string(spec.training.epochs) +
                     (spec.training.epochs == 1 ? " epoch = " : " epochs = ") + Thousands(data.total_steps) +
                     (spec.training.max_steps ? " (max_steps " + Thousands(*spec.training.max_steps) + ")" : ""));
    row("model", data.model.summary + ", " + Thousands(data.model.parameters) + " parameters");
    std::string state = data.model.optimizer_slots == 0 ? "params only"
                        : "params + " + spec.optimizer.type +
                              (data.model.optimizer_slots == 1 ? " momentum" : " moments");
    row("checkpoint", "~" + HumanBytes(data.model.checkpoint_bytes) + " each (" + state + "), keep " +
                          std::to_string(spec.checkpoint.keep_last));
  } else {
    row("data", data.note);
    row("steps", "unknown without the data");
    row("model", spec.model.type + (spec.model.hidden.empty() ? std::string()
                                                              : " hidden " + [&] {
                                                                  std::vector<std::string> h;
                                                                  for (int w : spec.model.hidden) h.push_back(std::to_string(w));
                                                                  return "[" + Join(h, ", ") + "]";
                                                                }()) +
                     "; size unknown without the data");
    row("checkpoint", "size unknown without the data; keep " + std::to_string(spec.checkpoint.keep_last));
  }
  if (npoints > 1) {
    std::vector<std::string> keys;
    for (const auto& a : spec.sweep.axes) keys.push_back(a.key);
    row("sweep", std::to_string(npoints) + " points (" + Join(keys, " x ") + "), " +
                     (spec.sweep.parallelism > 0 ? "at most " + std::to_string(spec.sweep.parallelism) + " at a time"
                                                 : "no concurrency limit"));
  }
  row("job", "backend " + spec.backend + ", launcher " + spec.launcher + ", time " + res.time + ", mem " + res.mem +
                 (res.partition ? ", partition " + *res.partition : std::string()));
  row("build", "backends " + Join(backends, ", ") +
                   (BuildHasCuda() ? std::string() : " (cuda needs a build with cmake -DHPCAI_WITH_CUDA=ON)"));
  row("hash", hash);
  std::cout << s.str();
  return exit_code::kOk;
}

}  // namespace

void SetupValidate(CLI::App& root) {
  auto opts = std::make_shared<ValidateOptions>();
  auto* app = root.add_subcommand("validate",
                                  "Check a spec as `hpcai submit` would (nothing is submitted or written)");
  app->add_option("spec", opts->spec, "experiment spec (YAML); - reads stdin")->required();
  app->add_option("--set", opts->sets,
                  "override a key with a YAML value, e.g. --set model.hidden=[512,256] (repeatable)")
      ->allow_extra_args(false);
  app->add_flag("--json", opts->json, "machine-readable output on stdout");
  app->add_flag("--no-data", opts->no_data, "skip opening the data sets");
  app->footer(
      "Examples:\n"
      "  hpcai validate experiment.yaml\n"
      "  hpcai validate experiment.yaml --set training.global_batch=512 --set optimizer.lr=0.1\n"
      "Exit codes: 0 ok, 2 spec errors (each as file:line:col), 3 broken data set.");
  app->callback([opts] { SetExitCode(RunValidate(*opts)); });
}

}  // namespace hpcai::cli
