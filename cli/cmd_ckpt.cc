// `hpcai ckpt list|verify`: the checkpoints of a run (format:
// docs/checkpoint-format.md).  Both verify every file fully (structure,
// magic, format version, `complete` marker, per-tensor CRC-32C), so "valid"
// here means exactly what `hpcai resume` and hpcai-train will accept.
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <iostream>
#include <memory>

#include "common.h"
#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/io/checkpoint.h"
#include "hpcai/slurm/registry.h"

namespace hpcai::cli {

namespace {

struct CkptOptions {
  std::string target;
  bool json = false;
};

// A run reference (id, prefix, name), a run directory or a checkpoints
// directory -> the checkpoints directory.
Result<std::string> CheckpointDirOf(const std::string& target) {
  if (fs::IsDir(target)) {
    std::string sub = fs::Join(target, "checkpoints");
    return fs::Absolute(fs::IsDir(sub) ? sub : target);
  }
  slurm::Registry reg(slurm::Registry::DefaultHome());
  HPCAI_ASSIGN_OR_RETURN(slurm::IndexEntry entry, reg.Resolve(target));
  if (entry.kind == "sweep") {
    return Status::InvalidArgument("'" + target + "' is a sweep; name one of its tasks (see `hpcai status " +
                                   target + "`)");
  }
  if (!fs::IsDir(entry.dir)) {
    return Status::NotFound("run " + entry.id + ": its directory " + entry.dir + " is missing");
  }
  return fs::Join(entry.dir, "checkpoints");
}

std::string IsoTime(double unix_seconds) {
  if (unix_seconds <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json EntryJson(const io::CheckpointEntry& e) {
  Json j = Json::MakeObject();
  j.set("path", e.path);
  j.set("step", e.step);
  j.set("bytes", e.bytes);
  j.set("valid", e.valid);
  j.set("latest", e.latest);
  if (e.valid) {
    j.set("epoch", e.meta.epoch);
    j.set("data_cursor", e.meta.data_cursor);
    j.set("world_size", e.meta.world_size);
    j.set("created", IsoTime(e.meta.created_unix));
    j.set("loss", e.meta.extra.get("loss"));
    j.set("val_accuracy", e.meta.extra.get("val_accuracy"));
    j.set("reason", e.meta.extra.get("reason"));
  } else {
    j.set("error", e.error);
  }
  return j;
}

int RunList(const CkptOptions& o) {
  auto dir = CheckpointDirOf(o.target);
  if (!dir.ok()) return ReportError(dir.status());
  if (!fs::IsDir(*dir)) {
    if (o.json) {
      std::cout << Json(Json::Object{{"dir", *dir}, {"checkpoints", Json::MakeArray()}}).dump(2) << "\n";
    } else {
      std::cout << "no checkpoints yet (" << *dir << " does not exist)\n";
    }
    return 0;
  }
  auto list = io::ListCheckpoints(*dir);
  if (!list.ok()) return ReportError(list.status());
  if (o.json) {
    Json arr = Json::MakeArray();
    for (const auto& e : *list) arr.push_back(EntryJson(e));
    std::cout << Json(Json::Object{{"dir", *dir}, {"checkpoints", arr}}).dump(2) << "\n";
    return 0;
  }
  if (list->empty()) {
    std::cout << "no checkpoints in " << *dir << "\n";
    return 0;
  }
  bool color = UseColor(1);
  std::printf("%-8s %-6s %-21s %-10s %-8s %-8s %-12s %s\n", "STEP", "EPOCH", "CREATED", "SIZE", "LOSS", "VAL ACC",
              "WHY", "VALID");
  for (const auto& e : *list) {
    std::string valid = e.valid ? Colorize("yes", "32", color) : Colorize("NO: " + e.error, "31", color);
    if (e.latest) valid += " (LATEST)";
    std::string loss = "-", acc = "-", why = "-";
    if (e.valid) {
      const Json& l = e.meta.extra.get("loss");
      const Json& a = e.meta.extra.get("val_accuracy");
      char buf[32];
      if (l.is_number()) { std::snprintf(buf, sizeof buf, "%.4f", l.as_double()); loss = buf; }
      if (a.is_number() && a.as_double() >= 0) { std::snprintf(buf, sizeof buf, "%.2f%%", 100 * a.as_double()); acc = buf; }
      if (e.meta.extra.get("reason").is_string()) why = e.meta.extra.get("reason").as_string();
    }
    std::printf("%-8lld %-6s %-21s %-10s %-8s %-8s %-12s %s\n", static_cast<long long>(e.step),
                e.valid ? std::to_string(e.meta.epoch).c_str() : "-",
                e.valid ? IsoTime(e.meta.created_unix).c_str() : "-", HumanBytes(e.bytes).c_str(), loss.c_str(),
                acc.c_str(), why.c_str(), valid.c_str());
  }
  return 0;
}

// Verifies one file, or every checkpoint of a run/dir.  Exit 0 when every
// file verifies, 3 (data/checkpoint error) otherwise; for a run it also says
// which checkpoint a resume would use.
int RunVerify(const CkptOptions& o) {
  struct stat st{};
  if (::stat(o.target.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    io::ReadCheckpointOptions ro;  // loads tensors: every CRC is checked
    auto ck = io::ReadCheckpoint(o.target, ro);
    if (o.json) {
      Json j = Json::MakeObject();
      j.set("path", fs::Absolute(o.target));
      j.set("valid", ck.ok());
      if (ck.ok()) {
        j.set("step", ck->meta.step);
        j.set("epoch", ck->meta.epoch);
        j.set("tensors", static_cast<int64_t>(ck->tensors.size()));
      } else {
        j.set("error", ck.status().message());
      }
      std::cout << j.dump(2) << "\n";
      return ck.ok() ? 0 : exit_code::kDataError;
    }
    if (!ck.ok()) return ReportError(ck.status());
    std::cout << "ok: " << o.target << " (step " << ck->meta.step << ", epoch " << ck->meta.epoch << ", "
              << ck->tensors.size() << " tensors, world size " << ck->meta.world_size << ", format "
              << ck->meta.format_version << ", hpcai " << ck->meta.hpcai_version << ")\n";
    return 0;
  }
  auto dir = CheckpointDirOf(o.target);
  if (!dir.ok()) return ReportError(dir.status());
  auto list = io::ListCheckpoints(*dir);
  if (!list.ok()) return ReportError(list.status());
  int bad = 0;
  Json arr = Json::MakeArray();
  for (const auto& e : *list) {
    if (!e.valid) ++bad;
    if (o.json) {
      arr.push_back(EntryJson(e));
    } else if (e.valid) {
      std::cout << "ok:      " << e.path << " (step " << e.step << ")\n";
    } else {
      std::cout << "CORRUPT: " << e.path << ": " << e.error << "\n";
    }
  }
  auto found = io::FindLatestValid(*dir, io::ReadCheckpointOptions{"", false});
  if (o.json) {
    Json j = Json::MakeObject();
    j.set("dir", *dir);
    j.set("checkpoints", arr);
    j.set("resume_from", found.ok() ? Json(found->checkpoint.path) : Json());
    std::cout << j.dump(2) << "\n";
  } else if (found.ok()) {
    for (const auto& w : found->warnings) std::cout << "warning: " << w << "\n";
    std::cout << "resume would continue from " << found->checkpoint.path << " (step "
              << found->checkpoint.meta.step << ")\n";
  } else {
    std::cout << "no valid checkpoint: " << found.status().message() << "\n";
  }
  if (list->empty()) return found.ok() ? 0 : exit_code::kDataError;
  return bad == 0 ? 0 : exit_code::kDataError;
}

}  // namespace

void SetupCkpt(CLI::App& root) {
  auto* app = root.add_subcommand("ckpt", "List and verify a run's checkpoints");
  app->require_subcommand(1);
  AddExample(app, "hpcai ckpt list fmnist-mlp            # or: hpcai ckpt verify runs/<id>/checkpoints/ckpt-500.h5");

  auto opts = std::make_shared<CkptOptions>();
  auto* list = app->add_subcommand("list", "Checkpoints of a run: step, epoch, time, size, loss, val accuracy, valid?");
  list->add_option("RUN", opts->target, "run id, unique prefix, name, or a run/checkpoints directory")->required();
  list->add_flag("--json", opts->json, "machine-readable output");
  AddExample(list, "hpcai ckpt list fmnist-mlp-20261122-101500-ab12 --json");
  list->callback([opts] { SetExitCode(RunList(*opts)); });

  auto* verify = app->add_subcommand(
      "verify", "Fully verify a checkpoint file, or every checkpoint of a run (exit 3 if any is corrupt)");
  verify->add_option("TARGET", opts->target, "a checkpoint file, or a run id/name/directory")->required();
  verify->add_flag("--json", opts->json, "machine-readable output");
  AddExample(verify, "hpcai ckpt verify runs/fmnist-mlp-20261122-101500-ab12/checkpoints/ckpt-1500.h5");
  verify->callback([opts] { SetExitCode(RunVerify(*opts)); });
}

}  // namespace hpcai::cli
