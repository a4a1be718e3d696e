// `hpcai cancel`: cancel runs, whole sweeps or single sweep tasks, or send a
// signal to their job scripts (which forward it to the job step).
#include <iostream>
#include <memory>

#include "common.h"
#include "hpcai/slurm/runs.h"

namespace hpcai::cli {

namespace {

struct CancelCliOptions {
  std::vector<std::string> refs;
  std::string signal;
};

int RunCancel(const CancelCliOptions& o) {
  slurm::Registry reg(slurm::Registry::DefaultHome());
  int rc = exit_code::kOk;
  for (const std::string& ref : o.refs) {
    auto entry = reg.Resolve(ref);
    if (!entry.ok()) {
      rc = ReportError(entry.status());
      continue;
    }
    auto done = slurm::CancelRun(*entry, o.signal);
    if (!done.ok()) {
      rc = ReportError(done.status().WithContext(entry->id));
      continue;
    }
    std::cout << *done << "\n";
  }
  return rc;
}

}  // namespace

void SetupCancel(CLI::App& root) {
  auto opts = std::make_shared<CancelCliOptions>();
  auto* app = root.add_subcommand("cancel", "Cancel runs, sweeps or sweep tasks (or signal them)");
  app->add_option("runs", opts->refs, "run ids, sweep ids (the whole array), task ids (<sweep>_<i>), prefixes or names")
      ->required();
  app->add_option("--signal", opts->signal,
                  "send this signal (e.g. USR1) to the job script instead of cancelling; it forwards it to the ranks");
  app->footer(
      "Examples:\n"
      "  hpcai cancel RUN\n"
      "  hpcai cancel SWEEP_ID            # every task of the sweep's job array\n"
      "  hpcai cancel SWEEP_ID_3          # one task\n"
      "  hpcai cancel RUN --signal USR1   # checkpoint-and-requeue, like a preemption\n"
      "Each cancel is recorded in the run's run.json.");
  app->callback([opts] { SetExitCode(RunCancel(*opts)); });
}

}  // namespace hpcai::cli
