// `hpcai resume RUN`: a new attempt of a finished, failed, cancelled,
// timed-out or preempted run, continuing from its latest valid checkpoint
// (or a named one).  hpcai-train finds the checkpoint through
// checkpoints/LATEST and restores parameters, optimizer state, RNG states and
// the data cursor, so the continuation is exact.
//
// What it refuses, before anything is changed: a run that is still live, a
// sweep (resume its tasks one by one), a run without a valid checkpoint, an
// override that changes the model or optimizer type (the checkpoint's
// tensors would not fit), and a resume with nothing left to train.
#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include "build_info.h"
#include "common.h"
#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/configs/spec.h"
#include "hpcai/io/checkpoint.h"
#include "hpcai/slurm/registry.h"
#include "hpcai/slurm/runs.h"
#include "run_view.h"

namespace hpcai::cli {

namespace {

struct ResumeOptions {
  std::string ref;
  std::vector<std::string> sets;
  std::string from;
  bool follow = false;
  bool json = false;
};

// `training.epochs=+N` / `training.max_steps=+N` are relative to the run's
// current value; everything else passes through unchanged.
Result<std::vector<std::string>> ResolveRelativeOverrides(const ResolvedSpec& old,
                                                          const std::vector<std::string>& sets) {
  std::vector<std::string> out;
  for (const std::string& s : sets) {
    auto eq = s.find('=');
    if (eq == std::string::npos || eq + 1 >= s.size() || s[eq + 1] != '+') {
      out.push_back(s);
      continue;
    }
    std::string key = s.substr(0, eq), num = s.substr(eq + 2);
    char* end = nullptr;
    long long add = std::strtoll(num.c_str(), &end, 10);
    if (num.empty() || *end != '\0' || add < 0) {
      return Status::InvalidArgument("--set " + s + ": a relative value must be '+' followed by a non-negative integer");
    }
    long long base = 0;
    if (key == "training.epochs") {
      base = old.training.epochs;
    } else if (key == "training.max_steps") {
      if (!old.training.max_steps) {
        return Status::InvalidArgument("--set " + s + ": the run has no training.max_steps to add to; give an absolute value");
      }
      base = *old.training.max_steps;
    } else {
      return Status::InvalidArgument("--set " + s + ": relative '+N' values work for training.epochs and training.max_steps only");
    }
    out.push_back(key + "=" + std::to_string(base + add));
  }
  return out;
}

// Makes `ckpt` (a file inside `dir`) the one hpcai-train resumes from: newer
// checkpoints are moved (not deleted) into superseded-<time>/, then LATEST
// names `ckpt`.  Nothing already written is lost.
Status PinCheckpoint(const std::string& dir, const std::string& ckpt, int64_t step, std::string* moved_to) {
  auto list = io::ListCheckpoints(dir);
  if (!list.ok()) return list.status();
  std::string sub;
  for (const auto& e : *list) {
    if (e.step <= step) continue;
    if (sub.empty()) {
      sub = fs::Join(dir, "superseded-" + std::to_string(static_cast<long long>(std::time(nullptr))));
      HPCAI_RETURN_IF_ERROR(fs::MakeDirs(sub));
    }
    std::string target = fs::Join(sub, fs::Basename(e.path));
    if (std::rename(e.path.c_str(), target.c_str()) != 0) {
      return Status::IOError("cannot move " + e.path + " aside to " + target);
    }
  }
  if (!sub.empty()) HPCAI_RETURN_IF_ERROR(fs::FsyncDir(dir));
  *moved_to = sub;
  return fs::AtomicWriteFile(fs::Join(dir, "LATEST"), fs::Basename(ckpt) + "\n");
}

int RunResume(const ResumeOptions& o) {
  slurm::Registry reg(slurm::Registry::DefaultHome());
  auto entry = reg.Resolve(o.ref);
  if (!entry.ok()) return ReportError(entry.status());
  if (entry->kind == "sweep") {
    return ReportError(Status::InvalidArgument("'" + entry->id + "' is a sweep; resume its tasks one by one (`hpcai status " +
                                               entry->id + "` lists them)"));
  }
  if (!fs::IsDir(entry->dir)) {
    return ReportError(Status::NotFound("run " + entry->id + ": its directory " + entry->dir + " is missing"));
  }

  // 1. Not while it may still run.
  slurm::StatusResult st = slurm::CollectStatus({*entry});
  if (!st.warning.empty()) std::cerr << "hpcai: warning: " << st.warning << "\n";
  if (st.runs.empty()) return ReportError(Status::Internal("no status for " + entry->id));
  const slurm::RunStatus& rs = st.runs[0];
  if (rs.live) {
    return ReportError(Status::FailedPrecondition(
        "run " + entry->id + " is still " + rs.state + (rs.job_id.empty() ? "" : " (job " + rs.job_id + ")") +
        "; wait for it to end or `hpcai cancel " + entry->id + "` first"));
  }

  // 2. The spec: the run's own, plus overrides.
  std::string spec_path = fs::Join(entry->dir, "spec.yaml");
  SpecLoadOptions base_opts;
  base_opts.check_data = false;
  base_opts.cuda_available = BuildHasCuda();
  SpecLoadResult old = LoadSpecFile(spec_path, base_opts);
  if (!old.ok()) {
    std::cerr << old.FormatAll();
    return ReportError(Status::Corrupt("the run's spec.yaml does not load (" + spec_path + ")"));
  }
  auto sets = ResolveRelativeOverrides(*old.spec, o.sets);
  if (!sets.ok()) return ReportError(sets.status());
  SpecLoadOptions new_opts = base_opts;
  new_opts.overrides = *sets;
  SpecLoadResult next = LoadSpecFile(spec_path, new_opts);
  if (!next.ok()) {
    std::cerr << next.FormatAll();
    return exit_code::kSpecError;
  }
  ResolvedSpec spec = *next.spec;
  if (CheckpointCompatKey(spec) != CheckpointCompatKey(*old.spec)) {
    return ReportError(Status::SpecError(
        "the overrides change the model or the optimizer type, so this run's checkpoints cannot be loaded; "
        "submit a new run instead (`hpcai submit`)"));
  }
  if (spec.resources.world_size() != old.spec->resources.world_size()) {
    std::cerr << "hpcai: warning: the world size changes from " << old.spec->resources.world_size() << " to "
              << spec.resources.world_size()
              << " ranks: training continues, but the trajectory may differ (within float tolerance) from an "
                 "uninterrupted run\n";
  }

  // 3. The checkpoint to continue from.
  std::string ckdir = fs::Join(entry->dir, "checkpoints");
  io::CheckpointMeta meta;
  std::string ckpt_path;
  if (!o.from.empty()) {
    std::string p = o.from;
    if (!fs::Exists(p)) p = fs::Join(ckdir, p);
    if (!fs::Exists(p)) {
      return ReportError(Status::NotFound("--from " + o.from + ": no such checkpoint in " + ckdir +
                                          " (`hpcai ckpt list " + entry->id + "` shows the ones kept)"));
    }
    p = fs::Absolute(p);
    if (fs::Dirname(p) != fs::Absolute(ckdir)) {
      return ReportError(Status::InvalidArgument("--from " + o.from + ": must be a checkpoint of this run (in " + ckdir + ")"));
    }
    auto ck = io::ReadCheckpoint(p, io::ReadCheckpointOptions{CheckpointCompatKey(spec), true});
    if (!ck.ok()) return ReportError(ck.status().WithContext("--from"));
    meta = ck->meta;
    ckpt_path = p;
  } else {
    auto found = io::FindLatestValid(ckdir, io::ReadCheckpointOptions{CheckpointCompatKey(spec), false});
    if (!found.ok()) {
      return ReportError(Status::NotFound("run " + entry->id + " has no valid checkpoint to resume from (" +
                                          found.status().message() + "); submit the spec again to start over"));
    }
    for (const auto& w : found->warnings) std::cerr << "hpcai: warning: " << w << "\n";
    meta = found->checkpoint.meta;
    ckpt_path = found->checkpoint.path;
  }
  bool steps_left = meta.epoch < spec.training.epochs &&
                    (!spec.training.max_steps || meta.step < *spec.training.max_steps);
  if (!steps_left) {
    return ReportError(Status::FailedPrecondition(
        "nothing left to train: " + fs::Basename(ckpt_path) + " is at step " + std::to_string(meta.step) +
        ", epoch " + std::to_string(meta.epoch) + " of " + std::to_string(spec.training.epochs) +
        "; give more, e.g. --set training.epochs=+5"));
  }

  // 4. Record: pin --from, keep the previous spec, write the new one, submit.
  std::string moved;
  if (!o.from.empty()) {
    Status s = PinCheckpoint(ckdir, ckpt_path, meta.step, &moved);
    if (!s.ok()) return ReportError(s);
  }
  std::string new_yaml = CanonicalYaml(spec, false);
  auto old_text = fs::ReadFile(spec_path);
  if (old_text.ok() && *old_text != new_yaml) {
    auto rec = slurm::LoadRunRecord(entry->dir);
    size_t n = rec.ok() ? rec->attempts.size() : 0;
    Status s = fs::AtomicWriteFile(fs::Join(entry->dir, "spec.attempt-" + std::to_string(n) + ".yaml"), *old_text);
    if (s.ok()) s = fs::AtomicWriteFile(spec_path, new_yaml);
    if (!s.ok()) return ReportError(s);
  }
  auto job = slurm::SubmitNewAttempt(*entry, spec);
  if (!job.ok()) return ReportError(job.status());

  if (o.json) {
    Json j = Json::MakeObject();
    j.set("run_id", entry->id);
    j.set("job_id", *job);
    j.set("run_dir", entry->dir);
    j.set("checkpoint", ckpt_path);
    j.set("step", meta.step);
    j.set("epoch", meta.epoch);
    j.set("epochs", spec.training.epochs);
    j.set("superseded_dir", moved.empty() ? Json() : Json(moved));
    std::cout << j.dump(2) << "\n";
  } else {
    std::cout << "Resumed run " << entry->id << " as job " << *job << " from " << fs::Basename(ckpt_path)
              << " (step " << meta.step << ", epoch " << meta.epoch << " of " << spec.training.epochs << ")\n";
    if (!moved.empty()) std::cout << "  newer checkpoints moved aside to " << moved << "\n";
    std::cout << "  next:    hpcai status " << entry->id << "\n           hpcai logs " << entry->id << " -f\n";
  }
  if (!o.follow) return 0;
  FollowOptions fo;
  fo.progress = true;
  fo.initial_lines = 0;
  slurm::RunStatus final_status = FollowRun(*entry, fo, std::cout);
  return OutcomeExitCode(final_status);
}

}  // namespace

void SetupResume(CLI::App& root) {
  auto* app = root.add_subcommand(
      "resume", "Continue a finished, failed, cancelled or preempted run from its latest valid checkpoint");
  auto opts = std::make_shared<ResumeOptions>();
  app->add_option("RUN", opts->ref, "run id, unique prefix or name")->required();
  app->add_option("--set", opts->sets,
                  "override a spec key (repeatable); training.epochs=+N adds N epochs");
  app->add_option("--from", opts->from, "continue from this checkpoint of the run (newer ones are moved aside)");
  app->add_flag("-f,--follow", opts->follow, "stream the log and progress until the run ends");
  app->add_flag("--json", opts->json, "machine-readable output");
  AddExample(app, "hpcai resume fmnist-mlp --set training.epochs=+5 --follow");
  app->callback([opts] { SetExitCode(RunResume(*opts)); });
}

}  // namespace hpcai::cli
