// The run registry: run.json in every run directory, and a global index
// ($HPCAI_HOME/index, default ~/.hpcai) so `hpcai status/logs/cancel` find
// runs from any directory.  Layout and fields: docs/run-directory.md.
//
// Concurrency: run ids are claimed with mkdir (O_EXCL semantics, also on NFS);
// index entries are one file per run written with an atomic rename; run.json
// is replaced atomically.  No byte-range locks anywhere.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "hpcai/base/json.h"
#include "hpcai/base/status.h"

namespace hpcai::slurm {

// One submission of a run.  Requeues of the same Slurm job (restarts) stay
// inside one attempt; `hpcai resume` adds attempts.
struct Attempt {
  std::string job_id;       // "123", "123_4" (array task), "local-4711"; "" when never submitted
  std::string backend;      // "slurm" | "local"
  std::string submitted;    // ISO-8601 UTC
  // Last known state: SUBMITTING, SUBMIT_FAILED, or a job state (docs/slurm.md).
  // Final states are written once known so later `status` calls skip Slurm.
  std::string state;
  std::optional<int> exit;  // exit code of the job's last step, when known
  std::string reason;       // Slurm's reason, a refusal message, or where the state came from
  int restarts = 0;         // Slurm restart count last seen
  std::string ended;        // ISO-8601 UTC when a final state was recorded
  int64_t pid = 0;          // local backend: leader of the job's process group
  std::string job_dir;      // the job's working directory (run dir, or sweep dir for arrays)
  // Last seen resources and times (shown for finished jobs Slurm has forgotten).
  int nodes = 0;
  std::string node_list;
  int64_t elapsed_s = -1;
  int64_t time_limit_min = -1;
};

struct CancelRecord {
  std::string at;      // ISO-8601 UTC
  std::string job_id;
  std::string signal;  // "" = cancel (Slurm: TERM, KILL after KillWait), else the signal sent
};

struct RunRecord {
  int format = 1;
  std::string kind = "run";  // "run" | "sweep" (a sweep's own record lists its tasks)
  std::string run_id;
  std::string name;
  std::string created;       // ISO-8601 UTC
  std::string backend;       // "slurm" | "local"
  std::string spec_hash;
  std::string sweep_id;      // a sweep task: its sweep
  int sweep_index = -1;      // a sweep task: its array index
  std::vector<std::string> tasks;  // a sweep: task run ids by index
  std::vector<Attempt> attempts;
  std::vector<CancelRecord> cancels;

  Json ToJson() const;
  // Corrupt (naming the field) when the JSON is not a run record.
  static Result<RunRecord> FromJson(const Json& j);
};

// run.json of a run directory.  NotFound when the directory or file is missing.
Result<RunRecord> LoadRunRecord(const std::string& run_dir);
// Atomically replaces run.json.
Status SaveRunRecord(const std::string& run_dir, const RunRecord& record);
// Load, apply `change`, save.  Last writer wins between concurrent updaters
// (each write is whole and atomic; see docs/run-directory.md).
Status UpdateRunRecord(const std::string& run_dir, const std::function<void(RunRecord&)>& change);

// "2024-01-02T03:04:05Z"
std::string NowIso();

struct IndexEntry {
  std::string id;
  std::string dir;   // absolute run (or sweep) directory
  std::string name;  // the spec name (a sweep task: "<name>-<index>")
  std::string kind;  // "run" | "sweep"
};

class Registry {
 public:
  // $HPCAI_HOME if set, else $HOME/.hpcai.
  static std::string DefaultHome();
  explicit Registry(std::string home);
  const std::string& home() const { return home_; }

  // A candidate run id "<name>-<yyyymmdd-hhmmss>-<4 hex>" (UTC, random hex
  // digits); it is the run's only once ClaimRunDir succeeds.
  static std::string CandidateRunId(const std::string& name);
  // Claims <parent>/<id> by creating it exclusively (and <parent> if needed).
  // FailedPrecondition when another process has it: take a new candidate.
  static Status ClaimRunDir(const std::string& parent, const std::string& id);

  // Claims a new run id (CandidateRunId + ClaimRunDir), retrying with new
  // random digits when another process took the same id.  Returns the id;
  // *dir = the path.
  Result<std::string> ClaimRunId(const std::string& parent, const std::string& name, std::string* dir) const;
  // Attempts before giving up (16 random bits each), and the error then.
  static constexpr int kClaimTries = 64;
  static Status ClaimExhausted(const std::string& parent);

  // Adds (or replaces) the index entry of a run, atomically and durably.
  // (Submission writes its entries itself, with the rest of the run, from
  // IndexEntryPath/IndexEntryText below.)
  Status AddToIndex(const IndexEntry& entry) const;
  // The index directory, an entry's file in it and its contents (what
  // AddToIndex writes), for a caller that writes entries itself.
  std::string index_dir() const { return home_ + "/index"; }
  std::string IndexEntryPath(const std::string& id) const { return index_dir() + "/" + id; }
  static std::string IndexEntryText(const IndexEntry& entry);
  // Every index entry, sorted by id.  Unreadable entries are skipped.
  Result<std::vector<IndexEntry>> List() const;
  // A run or sweep from a reference: an exact id, else a name (the latest run
  // of that name), else a unique id prefix.  NotFound / InvalidArgument
  // (ambiguous, listing candidates) otherwise.
  Result<IndexEntry> Resolve(const std::string& ref) const;
  static Result<IndexEntry> ResolveIn(const std::vector<IndexEntry>& entries, const std::string& ref);

 private:
  std::string home_;
};

}  // namespace hpcai::slurm
