// `hpcai status`: state and progress of runs, from run directories plus ONE
// batched Slurm query for all live jobs.
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <memory>
#include <thread>

#include "common.h"
#include "hpcai/slurm/runs.h"
#include "run_view.h"

namespace hpcai::cli {

namespace {

struct StatusCliOptions {
  std::vector<std::string> refs;
  bool all = false;
  bool json = false;
  double watch = 0;
};

int64_t AgeSeconds(const std::string& iso) {
  std::tm tm{};
  if (!strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return -1;
  return static_cast<int64_t>(std::time(nullptr) - timegm(&tm));
}

int ShowOnce(const StatusCliOptions& o) {
  slurm::Registry reg(slurm::Registry::DefaultHome());
  auto entries = slurm::SelectRuns(reg, o.refs);
  if (!entries.ok()) return ReportError(entries.status());
  slurm::StatusResult result = slurm::CollectStatus(*entries);
  std::vector<slurm::RunStatus> shown;
  size_t hidden = 0;
  for (auto& s : result.runs) {
    // Without refs or --all: live runs and those created in the last 24 hours.
    bool recent = s.record && AgeSeconds(s.record->created) >= 0 && AgeSeconds(s.record->created) < 86400;
    if (o.refs.empty() && !o.all && !s.live && !recent) {
      ++hidden;
      continue;
    }
    shown.push_back(std::move(s));
  }
  std::vector<RunRow> rows = MakeRows(shown);
  if (o.json) {
    std::cout << StatusJson(rows, result).dump(2) << "\n";
  } else {
    bool color = UseColor(STDOUT_FILENO);
    if (rows.empty()) {
      std::cout << "no runs" << (hidden ? " in the last 24 hours (" + std::to_string(hidden) + " older: --all)" : "")
                << "; submit one with `hpcai submit SPEC`\n";
    } else {
      PrintStatusTable(std::cout, rows, color);
      if (hidden) std::cout << "(" << hidden << " older finished run(s) hidden; --all shows them)\n";
    }
  }
  if (!result.warning.empty()) {
    std::cerr << Colorize("hpcai: warning: ", "33", UseColor(STDERR_FILENO)) << result.warning << "\n";
    return exit_code::kSlurmError;
  }
  return exit_code::kOk;
}

int RunStatusCmd(const StatusCliOptions& o) {
  if (o.watch <= 0) return ShowOnce(o);
  bool tty = ::isatty(STDOUT_FILENO) == 1;
  while (true) {
    if (tty) std::cout << "\033[H\033[2J";
    std::time_t t = std::time(nullptr);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", std::localtime(&t));
    std::cout << "hpcai status  " << buf << "  (every " << o.watch << "s, Ctrl-C to stop)\n";
    ShowOnce(o);
    std::cout << std::flush;
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int64_t>(o.watch * 1000)));
  }
}

}  // namespace

void SetupStatus(CLI::App& root) {
  auto opts = std::make_shared<StatusCliOptions>();
  auto* app = root.add_subcommand("status", "Show the state and progress of runs (one batched Slurm query)");
  app->add_option("runs", opts->refs, "run ids, unique id prefixes or experiment names (latest run of that name)");
  app->add_flag("--all", opts->all, "every recorded run (default: live runs and those of the last 24 hours)");
  app->add_flag("--json", opts->json, "stable JSON (documented in docs/slurm.md)");
  app->add_option("--watch", opts->watch, "refresh every SECONDS until Ctrl-C");
  app->footer(
      "Examples:\n"
      "  hpcai status                     # live and recent runs\n"
      "  hpcai status mnist-mlp           # the latest run named mnist-mlp\n"
      "  hpcai status --all --json\n"
      "  hpcai status SWEEP_ID --watch 5  # every task of a sweep\n"
      "States are Slurm's (PENDING with its reason, RUNNING, COMPLETED, FAILED, CANCELLED, TIMEOUT,\n"
      "PREEMPTED, NODE_FAIL, OUT_OF_MEMORY, REQUEUED, ...) plus SUBMIT_FAILED, MISSING and UNKNOWN.");
  app->callback([opts] { SetExitCode(RunStatusCmd(*opts)); });
}

}  // namespace hpcai::cli
