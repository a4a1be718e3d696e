// `hpcai logs`: print (or follow) a run's job output, per restart.
#include <iostream>
#include <memory>

#include "common.h"
#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/slurm/rank_logs.h"
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
  int rank = -1;  // -1: the job log; else that rank's own log
  bool rank_given = false;
};

// The latest start's state in words, for "not there yet" messages.
std::string RunStateWords(const slurm::IndexEntry& entry) {
  slurm::StatusResult st = slurm::CollectStatus({entry});
  if (st.runs.empty() || st.runs[0].state.empty()) return "state unknown";
  const slurm::RunStatus& r = st.runs[0];
  return r.state + (r.reason.empty() || r.reason == "None" ? "" : ", " + r.reason) +
         (r.job_id.empty() ? "" : ", job " + r.job_id);
}

// `hpcai logs RUN --rank N`: rank N's own log (logs/rank-<N>-<job>-<restart>.log).
int RankLogs(const LogsCliOptions& o, const slurm::IndexEntry& entry, const slurm::RunRecord& rec,
             const std::vector<LogSegment>& segs) {
  if (o.stderr_stream)
    return ReportError(Status::InvalidArgument(
        "--rank and --stderr: a rank's log holds both its stdout and its stderr, in order; drop --stderr "
        "(--stderr alone shows the job's stderr)"));
  auto world = slurm::RunWorldSize(entry.dir);
  if (!world.ok()) return ReportError(world.status());
  Status in_range = slurm::CheckRank(entry.id, o.rank, *world);
  if (!in_range.ok()) return ReportError(in_range);
  const std::string ref = entry.id;
  const std::string r = std::to_string(o.rank);
  if (o.list) {
    // One line per start, like --list, with this rank's file (or why there is none).
    for (size_t i = 0; i < segs.size(); ++i) {
      const LogSegment& s = segs[i];
      std::string path = slurm::RankLogPath(entry.dir, o.rank, s.job_id, s.restart);
      std::cout << i << "  attempt " << s.attempt << "  job " << s.job_id << " restart " << s.restart << "  rank "
                << r << "  " << (fs::Exists(path) ? path : "(no log: the rank did not start)") << "\n";
    }
    if (segs.empty()) std::cerr << "hpcai: " << ref << " has not started yet (" << RunStateWords(entry) << ")\n";
    return exit_code::kOk;
  }
  if (o.follow && o.attempt < 0) {
    FollowOptions fo;
    fo.rank = o.rank;
    fo.initial_lines = o.lines < 0 ? 10 : o.lines;
    auto final = FollowRun(entry, fo, std::cout);
    if (!final.live)
      std::cerr << "hpcai: " << ref << " ended " << final.state
                << (final.exit_code ? " (exit " + std::to_string(*final.exit_code) + ")" : "") << "\n";
    return exit_code::kOk;
  }
  if (segs.empty()) {
    std::cerr << "hpcai: error: no log for rank " << r << " of " << ref << " yet: the job has not started ("
              << (rec.attempts.empty() ? std::string("not submitted") : RunStateWords(entry)) << "); `hpcai logs "
              << ref << " --rank " << r << " -f` waits for it\n";
    return exit_code::kFailure;
  }
  size_t k = o.attempt < 0 ? segs.size() - 1 : static_cast<size_t>(o.attempt);
  if (k >= segs.size())
    return ReportError(Status::InvalidArgument("--attempt " + std::to_string(o.attempt) + ": " + ref + " has " +
                                               std::to_string(segs.size()) + " log segment(s), 0.." +
                                               std::to_string(segs.size() - 1) + " (see --list)"));
  const LogSegment& s = segs[k];
  const std::string path = slurm::RankLogPath(entry.dir, o.rank, s.job_id, s.restart);
  auto text = fs::ReadFile(path);
  if (!text.ok()) {
    std::vector<int> have = slurm::RanksWithLogs(entry.dir, s.job_id, s.restart);
    std::string others;
    for (int h : have) others += (others.empty() ? "" : ", ") + std::to_string(h);
    std::cerr << "hpcai: error: rank " << r << " has no log for segment " << k << " (job " << s.job_id
              << " restart " << s.restart << "): " << path << " does not exist; the rank has not started (yet), "
              << "or this start ran an hpcai-train without per-rank logs. Ranks with a log in this start: "
              << (others.empty() ? "none" : others) << ". The job's own log: `hpcai logs " << ref
              << (o.attempt < 0 ? "" : " --attempt " + std::to_string(k)) << "`\n";
    return exit_code::kFailure;
  }
  std::cout << LastLines(*text, o.lines) << std::flush;
  return exit_code::kOk;
}

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
  if (o.rank_given) return RankLogs(o, *entry, *rec, segs);
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
  app->add_option_function<int>(
      "--rank",
      [opts](const int& r) {
        opts->rank = r;
        opts->rank_given = true;
      },
      "rank N's own log (its stdout and stderr) instead of the job log; with --list: its file per segment");
  app->footer(
      "Examples:\n"
      "  hpcai logs mnist-mlp -f          # follow the latest run named mnist-mlp\n"
      "  hpcai logs RUN --list            # one segment per job start (restarts, resumes)\n"
      "  hpcai logs RUN --attempt 0 --stderr\n"
      "  hpcai logs RUN --rank 1 -n 20    # rank 1's own log, latest start\n"
      "  hpcai logs RUN --rank 3 -f       # follow rank 3 across requeues\n"
      "Files: RUN/logs/slurm-<job>-<restart>.out|err (the job log: the script and all ranks, interleaved) and\n"
      "RUN/logs/rank-<rank>-<job>-<restart>.log (one rank's stdout and stderr, written by hpcai-train).\n"
      "Slurm's own messages are shown as 'slurm: ...'.");
  app->callback([opts] { SetExitCode(RunLogs(*opts)); });
}

}  // namespace hpcai::cli
