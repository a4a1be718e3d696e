// `hpcai submit`: validate a spec, create the run directory, render
// job.sbatch and submit it to Slurm (or run it locally).
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <thread>

#include "build_info.h"
#include "common.h"
#include "hpcai/base/json.h"
#include "hpcai/configs/spec.h"
#include "hpcai/slurm/runs.h"
#include "run_view.h"
#include "spec_data_check.h"

namespace hpcai::cli {

namespace {

struct SubmitCliOptions {
  std::string spec_path;
  std::vector<std::string> overrides;
  bool dry_run = false;
  std::string backend;
  bool follow = false;
  bool json = false;
  bool no_data = false;
};

void PrintSummary(const ResolvedSpec& spec, const slurm::SubmitOutcome& o, std::ostream& out) {
  const auto& r = spec.resources;
  out << "experiment   " << spec.name << (o.kind == "sweep" ? " (sweep of " + std::to_string(o.tasks.size()) + " tasks)" : "")
      << "\n";
  out << "spec hash    " << o.spec_hash << "\n";
  out << "backend      " << o.backend << (o.api.empty() ? "" : " (" + o.api + ")") << "\n";
  out << "resources    " << r.nodes << " node(s) x " << r.tasks_per_node << " rank(s), " << r.cpus_per_task
      << " cpu(s)/rank" << (r.gpus_per_node > 0 ? ", " + std::to_string(r.gpus_per_node) + " gpu(s)/node" : "")
      << ", mem " << r.mem << "/node, time " << r.time
      << (r.partition ? ", partition " + *r.partition : "") << "\n";
  out << "launch       " << spec.launcher << " " << o.train_binary << " --run-dir RUN\n";
  out << "training     " << spec.model.type << ", " << spec.optimizer.type << " lr " << spec.optimizer.lr << ", "
      << spec.training.epochs << " epoch(s), global batch " << spec.training.global_batch << ", seed "
      << spec.training.seed << "\n";
  out << "preemption   SIG" << spec.preemption.signal << " " << spec.preemption.lead_seconds << "s before the limit, "
      << (spec.preemption.requeue ? "requeue (max " + std::to_string(spec.preemption.max_restarts) + " restarts)"
                                  : "no requeue")
      << "\n";
  out << (o.kind == "sweep" ? "sweep dir    " : "run dir      ") << o.dir << "\n";
}

Json OutcomeJson(const slurm::SubmitOutcome& o, bool dry_run) {
  Json j = Json::MakeObject();
  j.set("run_id", o.id);
  j.set("kind", o.kind);
  j.set("run_dir", o.dir);
  j.set("job_id", o.job_id.empty() ? Json() : Json(o.job_id));
  j.set("backend", o.backend);
  j.set("api", o.api.empty() ? Json() : Json(o.api));
  j.set("spec_hash", o.spec_hash);
  j.set("train_binary", o.train_binary);
  j.set("dry_run", dry_run);
  j.set("state", dry_run ? "DRY_RUN" : (o.submit_status.ok() ? (o.backend == "local" ? "RUNNING" : "PENDING")
                                                               : "SUBMIT_FAILED"));
  j.set("error", o.submit_status.ok() ? Json() : Json(o.submit_status.message()));
  Json tasks = Json::MakeArray();
  for (const auto& t : o.tasks) {
    Json x = Json::MakeObject();
    x.set("index", t.index);
    x.set("run_id", t.run_id);
    x.set("run_dir", t.run_dir);
    x.set("name", t.name);
    x.set("job_id", t.job_id.empty() ? Json() : Json(t.job_id));
    tasks.push_back(x);
  }
  j.set("tasks", tasks);
  if (dry_run) j.set("script", o.script);
  return j;
}

// --follow of a sweep: task state changes until every task has ended.
int FollowSweep(const slurm::IndexEntry& sweep) {
  slurm::Registry reg(slurm::Registry::DefaultHome());
  std::map<std::string, std::string> last;
  while (true) {
    auto entries = slurm::SelectRuns(reg, {sweep.id});
    if (!entries.ok()) return ReportError(entries.status());
    auto st = slurm::CollectStatus(*entries);
    bool live = false, all_ok = true;
    for (const auto& s : st.runs) {
      if (s.record && s.record->kind == "sweep") continue;
      if (last[s.entry.id] != s.state) {
        std::cout << "hpcai: " << s.entry.id << " " << s.state << (s.reason.empty() ? "" : " (" + s.reason + ")")
                  << std::endl;
        last[s.entry.id] = s.state;
      }
      live = live || s.live;
      all_ok = all_ok && s.state == "COMPLETED";
    }
    if (!live) return all_ok ? exit_code::kOk : exit_code::kFailure;
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
}

int RunSubmit(const SubmitCliOptions& o) {
  SpecLoadOptions lo;
  lo.overrides = o.overrides;
  lo.cuda_available = BuildHasCuda();
  lo.check_data = !o.no_data;
  SpecLoadResult loaded = LoadSpecFile(o.spec_path, lo);
  if (!loaded.ok()) {
    std::cerr << loaded.FormatAll();
    std::cerr << "hpcai: error: " << o.spec_path << " is not a valid spec; nothing was submitted\n";
    return exit_code::kSpecError;
  }
  const ResolvedSpec& spec = *loaded.spec;
  // The data checks of `hpcai validate`, per sweep point, before anything is created.
  if (lo.check_data) {
    auto points = ExpandSweep(spec);
    if (!points.ok()) return ReportError(points.status());
    for (size_t i = 0; i < points->size(); ++i) {
      DataCheckReport rep;
      Status ds = CheckSpecData((*points)[i], &rep);
      if (!ds.ok()) {
        if (points->size() > 1) ds = ds.WithContext("sweep point " + std::to_string(i) + " (" + (*points)[i].name + ")");
        int rc = ReportError(ds);
        std::cerr << "hpcai: nothing was submitted (--no-data skips the data checks)\n";
        return rc;
      }
      if (i == 0 && !rep.checked && !rep.note.empty() && !o.json) std::cerr << "hpcai: note: " << rep.note << "\n";
    }
  }
  slurm::SubmitOptions so;
  so.backend = o.backend;
  so.dry_run = o.dry_run;
  auto res = slurm::SubmitExperiment(spec, so);
  if (!res.ok()) return ReportError(res.status());
  const slurm::SubmitOutcome& out = *res;

  if (o.dry_run) {
    if (o.json) {
      std::cout << OutcomeJson(out, true).dump(2) << "\n";
    } else {
      std::cout << "# hpcai submit --dry-run: nothing was created or submitted (the run id is not claimed)\n";
      PrintSummary(spec, out, std::cout);
      std::cout << "\n" << out.script;
    }
    return exit_code::kOk;
  }

  if (!out.submit_status.ok()) {
    if (o.json) std::cout << OutcomeJson(out, false).dump(2) << "\n";
    int rc = ReportError(out.submit_status);
    std::cerr << "hpcai: the attempt is recorded as " << out.id << " (SUBMIT_FAILED); nothing runs\n";
    return rc;
  }

  if (o.json) {
    std::cout << OutcomeJson(out, false).dump(2) << "\n";
  } else {
    bool color = UseColor(STDOUT_FILENO);
    std::string what = out.backend == "local" ? "local job " : (out.kind == "sweep" ? "Slurm array job " : "Slurm job ");
    std::cout << Colorize("Submitted", "32", color) << " " << out.kind << " " << Colorize(out.id, "1", color) << " as "
              << what << out.job_id << "\n";
    std::cout << "  " << (out.kind == "sweep" ? "sweep" : "run") << " dir: " << out.dir << "\n";
    for (const auto& t : out.tasks) std::cout << "  task " << t.index << ": " << t.run_id << " (" << t.name << ")\n";
    std::cout << "  next:    hpcai status " << out.id << "\n";
    if (out.kind == "run") std::cout << "           hpcai logs " << out.id << " -f\n";
    std::cout << "           hpcai cancel " << out.id << "\n";
  }
  if (!o.follow) return exit_code::kOk;

  slurm::IndexEntry entry{out.id, out.dir, spec.name, out.kind};
  if (out.kind == "sweep") return FollowSweep(entry);
  FollowOptions fo;
  fo.progress = true;
  fo.initial_lines = -1;
  slurm::RunStatus final = FollowRun(entry, fo, std::cout);
  std::cerr << "hpcai: " << out.id << " ended " << final.state
            << (final.exit_code ? " (exit " + std::to_string(*final.exit_code) + ")" : "")
            << (final.reason.empty() ? "" : ": " + final.reason) << "\n";
  return OutcomeExitCode(final);
}

}  // namespace

void SetupSubmit(CLI::App& root) {
  auto opts = std::make_shared<SubmitCliOptions>();
  auto* app = root.add_subcommand("submit", "Submit an experiment to Slurm (or run it locally)");
  app->add_option("spec", opts->spec_path, "experiment spec (YAML)")->required();
  app->add_option("--set", opts->overrides, "override a spec key: key.path=value (repeatable)");
  app->add_flag("--dry-run", opts->dry_run, "print the summary and job.sbatch; create and submit nothing");
  app->add_option("--backend", opts->backend, "auto | slurm | local (default: the spec's backend, usually auto)")
      ->check(CLI::IsMember({"auto", "slurm", "local"}));
  app->add_flag("--follow", opts->follow,
                "stream the job's log and progress until it ends; the exit code is the job's outcome");
  app->add_flag("--json", opts->json, "print {run_id, job_id, run_dir, ...} as JSON");
  app->add_flag("--no-data", opts->no_data, "skip the data checks (data sets are opened when reachable here)");
  app->footer(
      "Examples:\n"
      "  hpcai submit experiment.yaml\n"
      "  hpcai submit experiment.yaml --set optimizer.lr=0.1 --follow\n"
      "  hpcai submit experiment.yaml --dry-run          # show job.sbatch, submit nothing\n"
      "  hpcai submit experiment.yaml --backend local    # run on this machine with mpirun\n"
      "Exit codes: 0 submitted (with --follow: the job completed), 2 invalid spec,\n"
      "5 Slurm refused or unreachable (the run is recorded SUBMIT_FAILED), 75 job checkpointed and stopped.");
  app->callback([opts] {
    int rc = RunSubmit(*opts);
    SetExitCode(rc);
  });
}

}  // namespace hpcai::cli
