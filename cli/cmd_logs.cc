// `hpcai logs`: print (or follow) a run's job output, per restart.
#include <iostream>
#include <memory>

#include "common.h"
#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/slurm/runs.h"
#include "run_view.h"

namespace hpcai::cli {

namespace {

struct LogsCliOptions {
  std::string ref;
  bool follow = false;
  int attempt = -1;
  bool stderr_stream = false;
  int lines = -1;
  bool list = false;
};

int RunLogs(const LogsCliOptions& o) {
  slurm::Registry reg(slurm::Registry::DefaultHome());
  auto entry = reg.Resolve(o.ref);
  if (!entry.ok()) return ReportError(entry.status());
  if (entry->kind == "sweep") {
    auto rec = slurm::LoadRunRecord(entry->dir);
    std::string first = rec.ok() && !rec->tasks.empty() ? rec->tasks.front() : entry->id + "_0";
    return ReportError(Status::InvalidArgument(entry->id + " is a sweep; logs belong to its tasks, e.g. `hpcai logs " +
                                               first + "` (`hpcai status " + entry->id + "` lists them)"));
  }
  auto rec = slurm::LoadRunRecord(entry->dir);
  if (!rec.ok()) {
    if (!fs::IsDir(entry->dir))
      return ReportError(Status::NotFound("run " + entry->id + " is missing: its directory " + entry->dir +
                                          " was deleted"));
    return ReportError(rec.status());
  }
  std::vector<LogSegment> segs = ListLogSegments(entry->dir, *rec);
  if (o.list) {
    // One line per start: how it ended (from the job's exit record) and its file.
    for (size_t i = 0; i < segs.size(); ++i) {
      std::string outcome = "no exit record (running, or killed)";
      auto text = fs::ReadFile(segs[i].exit_file, 1 << 16);
      if (text.ok()) {
        auto j = Json::Parse(*text);
        if (j.ok() && j->get("exit").is_number()) {
          int64_t code = j->get("exit").as_int();
          outcome = "exit " + std::to_string(code) +
                    (code == 0 ? " (completed)" : code == exit_code::kRequeued ? " (checkpointed)" : " (failed)") +
                    " at " + j->get("finished_at").as_string();
        }
      }
      std::cout << i << "  attempt " << segs[i].attempt << "  job " << segs[i].job_id << " restart "
                << segs[i].restart << "  " << outcome << "  " << (o.stderr_stream ? segs[i].err : segs[i].out)
                << "\n";
    }
    return exit_code::kOk;
  }
  if (o.follow && o.attempt < 0) {
    FollowOptions fo;
    fo.stderr_stream = o.stderr_stream;
    fo.initial_lines = o.lines < 0 ? 10 : o.lines;
    auto final = FollowRun(*entry, fo, std::cout);
    if (!final.live)
      std::cerr << "hpcai: " << entry->id << " ended " << final.state
                << (final.exit_code ? " (exit " + std::to_string(*final.exit_code) + ")" : "") << "\n";
    return exit_code::kOk;
  }
  if (segs.empty()) {
    const auto& a = rec->attempts;
    std::string state = a.empty() ? "not submitted" : a.back().state;
    std::cerr << "hpcai: no output yet for " << entry->id << " (" << state
              << "); `hpcai logs " << entry->id << " -f` waits for it\n";
    return exit_code::kOk;
  }
  size_t k = o.attempt < 0 ? segs.size() - 1 : static_cast<size_t>(o.attempt);
  if (k >= segs.size())
    return ReportError(Status::InvalidArgument("--attempt " + std::to_string(o.attempt) + ": " + entry->id + " has " +
                                               std::to_string(segs.size()) + " log segment(s), 0.." +
                                               std::to_string(segs.size() - 1) + " (see --list)"));
  const LogSegment& s = segs[k];
  auto text = fs::ReadFile(o.stderr_stream ? s.err : s.out);
  std::cout << LastLines(text.ok() ? *text : "", o.lines) << std::flush;
  // Slurm's own messages (time limit, cancellation, requeue) for the last restart shown.
  if (k + 1 == segs.size() || segs[k + 1].job_id != s.job_id) {
    for (const std::string& p : {s.slurm_err, s.slurm_out}) {
      auto t = fs::ReadFile(p, 1 << 20);
      if (!t.ok()) continue;
      size_t start = 0;
      while (start < t->size()) {
        size_t nl = t->find('\n', start);
        std::string l = t->substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        start = nl == std::string::npos ? t->size() : nl + 1;
        if (!l.empty()) std::cout << "slurm: " << l << "\n";
      }
    }
  }
  return exit_code::kOk;
}

}  // namespace

void SetupLogs(CLI::App& root) {
  auto opts = std::make_shared<LogsCliOptions>();
  auto* app = root.add_subcommand("logs", "Print or follow a run's job output (each restart separately)");
  app->add_option("run", opts->ref, "run id, unique id prefix or experiment name")->required();
  app->add_flag("-f,--follow", opts->follow, "follow the output across requeues until the job ends");
  app->add_option("--attempt", opts->attempt, "log segment K (0 = first job's first start; see --list)");
  app->add_flag("--stderr", opts->stderr_stream, "the job's stderr instead of stdout");
  app->add_option("-n,--lines", opts->lines, "only the last LINES lines");
  app->add_flag("--list", opts->list, "list the log segments (one per job start)");
  app->footer(
      "Examples:\n"
      "  hpcai logs mnist-mlp -f          # follow the latest run named mnist-mlp\n"
      "  hpcai logs RUN --list            # one segment per job start (restarts, resumes)\n"
      "  hpcai logs RUN --attempt 0 --stderr\n"
      "Files: RUN/logs/slurm-<job>-<restart>.out|err; Slurm's own messages are shown as 'slurm: ...'.");
  app->callback([opts] { Exit(RunLogs(*opts)); });
}

}  // namespace hpcai::cli
