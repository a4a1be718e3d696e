// Submit / status / cancel over the registry and the backends (runs.h).
#include "hpcai/slurm/runs.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <functional>
#include <csignal>
#include <ctime>
#include <map>
#include <set>
#include <thread>

#include "backends.h"
#include "durable.h"
#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/base/sha256.h"
#include "local_process.h"
#include "slurm_util.h"

namespace hpcai::slurm {

namespace {

constexpr const char* kSubmitting = "SUBMITTING";
constexpr const char* kSubmitFailed = "SUBMIT_FAILED";

// Seconds since an ISO-8601 UTC time written by NowIso(); -1 if unparsable.
int64_t AgeSeconds(const std::string& iso) {
  std::tm tm{};
  if (!strptime(iso.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return -1;
  return static_cast<int64_t>(std::time(nullptr) - timegm(&tm));
}

Attempt NewAttempt(const std::string& backend, const std::string& job_dir) {
  Attempt a;
  a.backend = backend;
  a.submitted = NowIso();
  a.state = kSubmitting;
  a.job_dir = job_dir;
  return a;
}

// Plans a run directory's files: logs/, spec.yaml, job.sbatch and run.json
// (in that order), with spec.yaml and job.sbatch to be made durable with the
// plan.  run.json and the directory are made durable after the RPC, once the
// job id is recorded: syncing them before too would only add two fsyncs to
// the RPC's time.  Not logs/ either: it is empty, and the job script
// recreates it (mkdir -p) if a crash lost it.
void PlanRunFiles(const std::string& dir, std::string spec_yaml, std::string script, const RunRecord& rec,
                  WritePlan* plan) {
  plan->dirs.push_back(fs::Join(dir, "logs"));
  plan->AddFile(fs::Join(dir, "spec.yaml"), std::move(spec_yaml));
  plan->AddFile(fs::Join(dir, "job.sbatch"), std::move(script));
  plan->AddFile(fs::Join(dir, "run.json"), rec.ToJson().dump(2) + "\n");
  for (const char* f : {"spec.yaml", "job.sbatch"}) plan->sync.push_back(fs::Join(dir, f));
}

// The submission outcome in the record's newest attempt.
void ApplySubmission(RunRecord& r, const Status& submitted, const std::string& job_id, int64_t pid,
                     const std::string& live_state, const std::string& live_reason) {
  if (r.attempts.empty()) return;
  Attempt& a = r.attempts.back();
  if (submitted.ok()) {
    a.job_id = job_id;
    a.pid = pid;
    a.state = live_state;
    a.reason = live_reason;
  } else {
    a.state = kSubmitFailed;
    a.reason = submitted.message();
    a.ended = NowIso();
  }
}

// Replaces run.json.  `durable`: with fsync (after the barrier, or alone).
Status SaveSubmission(const std::string& dir, const RunRecord& r, bool durable) {
  if (durable) return SaveRunRecord(dir, r);
  return WriteVisible(fs::Join(dir, "run.json"), r.ToJson().dump(2) + "\n");
}

// Records the submission outcome in run.json (the only writer at this point).
Status RecordSubmission(const std::string& dir, const Status& submitted, const std::string& job_id, int64_t pid,
                        const std::string& live_state, const std::string& live_reason = "", bool durable = true) {
  HPCAI_ASSIGN_OR_RETURN(RunRecord r, LoadRunRecord(dir));
  ApplySubmission(r, submitted, job_id, pid, live_state, live_reason);
  return SaveSubmission(dir, r, durable);
}

// The detached runner of a local sweep: starts the tasks with at most
// `parallelism` at once, records each task's pid, and stops launching when
// the sweep is cancelled.  Runs in its own process (see ForkRunner).
void RunLocalSweep(const std::string& sweep_dir, const std::vector<SubmittedTask>& tasks, int parallelism) {
  std::string script = fs::Join(sweep_dir, "job.sbatch");
  std::map<int64_t, std::string> running;  // pid -> task run dir
  size_t next = 0;
  auto cancelled = [&] {
    auto r = LoadRunRecord(sweep_dir);
    return r.ok() && !r->cancels.empty();
  };
  while (next < tasks.size() || !running.empty()) {
    if (cancelled()) {
      for (; next < tasks.size(); ++next) {
        (void)UpdateRunRecord(tasks[next].run_dir, [](RunRecord& r) {
          if (r.attempts.empty()) return;
          r.attempts.back().state = "CANCELLED";
          r.attempts.back().reason = "sweep cancelled before this task started";
          r.attempts.back().ended = NowIso();
        });
      }
    }
    while (next < tasks.size() && (parallelism <= 0 || static_cast<int>(running.size()) < parallelism)) {
      const SubmittedTask& t = tasks[next];
      auto pid = LaunchDetached(script, t.run_dir, fs::Join(t.run_dir, "logs/local-launch.log"),
                                {"HPCAI_ARRAY_TASK_ID=" + std::to_string(t.index)});
      Status st = pid.ok() ? Status::OK() : pid.status();
      (void)RecordSubmission(t.run_dir, st, pid.ok() ? "local-" + std::to_string(*pid) : "", pid.ok() ? *pid : 0,
                             "RUNNING");
      if (pid.ok()) running[*pid] = t.run_dir;
      ++next;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    for (auto it = running.begin(); it != running.end();) {
      auto p = InspectProcess(it->first);
      if (!p) it = running.erase(it);
      else ++it;
    }
  }
}

// Forks `body` into a detached process (own session, stdio to `log`) and
// returns its pid.  Double fork: it never becomes our zombie.
Result<int64_t> ForkRunner(const std::string& log, const std::function<void()>& body) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Status::IOError("pipe failed");
  pid_t mid = ::fork();
  if (mid < 0) return Status::IOError("fork failed");
  if (mid == 0) {
    pid_t g = ::fork();
    if (g == 0) {
      ::setsid();
      int in = ::open("/dev/null", O_RDONLY);
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (in >= 0) ::dup2(in, 0);
      if (out >= 0) {
        ::dup2(out, 1);
        ::dup2(out, 2);
      }
      body();
      ::_exit(0);
    }
    int64_t gp = g;
    (void)!::write(p[1], &gp, sizeof gp);
    ::_exit(0);
  }
  ::close(p[1]);
  int st = 0;
  while (::waitpid(mid, &st, 0) < 0 && errno == EINTR) {
  }
  int64_t pid = -1;
  ssize_t n = ::read(p[0], &pid, sizeof pid);
  ::close(p[0]);
  if (n != static_cast<ssize_t>(sizeof pid) || pid <= 0) return Status::IOError("could not start the local sweep runner");
  return pid;
}

}  // namespace

bool IsFinalState(const std::string& s) { return IsFinalSlurmState(s) || s == kSubmitFailed; }

Result<SubmitOutcome> SubmitExperiment(const ResolvedSpec& spec_in, const SubmitOptions& opts) {
  ResolvedSpec spec = spec_in;
  spec.runs_root = fs::Absolute(spec.runs_root.empty() ? "./runs" : spec.runs_root);
  HPCAI_ASSIGN_OR_RETURN(std::string backend_name,
                         ResolveBackendName(opts.backend.empty() ? spec.backend : opts.backend));
  HPCAI_ASSIGN_OR_RETURN(std::string train_binary, ResolveTrainBinary(spec, !opts.dry_run));

  std::vector<ResolvedSpec> tasks;
  const bool sweep = !spec.sweep.empty();
  if (sweep) {
    HPCAI_ASSIGN_OR_RETURN(tasks, ExpandSweep(spec));
    if (tasks.empty()) return Status::InvalidArgument("sweep: the grid is empty");
    HPCAI_RETURN_IF_ERROR(CheckSweepUniform(tasks));
    for (auto& t : tasks) t.runs_root = spec.runs_root;
  }

  SubmitOutcome out;
  out.kind = sweep ? "sweep" : "run";
  out.backend = backend_name;
  out.train_binary = train_binary;
  // spec.yaml is the canonical YAML, and the spec hash is its sha256 (SpecHash):
  // emitted once for both.
  const std::string canonical_yaml = CanonicalYaml(spec, true);
  out.spec_hash = Sha256Hex(canonical_yaml);

  // The script input for a run id and directory (validated by rendering).
  auto make_input = [&](const std::string& id, const std::string& dir) {
    ScriptInput in;
    in.spec = sweep ? tasks[0] : spec;
    in.spec.name = spec.name;
    in.id = id;
    in.job_dir = dir;
    in.train_binary = train_binary;
    in.spec_hash = out.spec_hash;
    if (sweep) {
      in.array_parallelism = spec.sweep.parallelism;
      for (size_t i = 0; i < tasks.size(); ++i) in.task_run_dirs.push_back(fs::Join(dir, id + "_" + std::to_string(i)));
    }
    return in;
  };
  // The script is rendered (and so validated) for a candidate run id before
  // anything is created; that id is then claimed as it is.  Only when another
  // submission took it in between is a new one drawn and the script rendered
  // again.
  std::unique_ptr<Backend> backend;
  Registry registry(opts.home.empty() ? Registry::DefaultHome() : opts.home);
  std::string dir;
  ScriptInput in;
  JobRequest job;
  for (int tries = 0;; ++tries) {
    out.id = Registry::CandidateRunId(spec.name);
    dir = fs::Join(spec.runs_root, out.id);
    in = make_input(out.id, dir);
    HPCAI_ASSIGN_OR_RETURN(out.script, RenderJobScript(in));
    if (opts.dry_run) {
      out.dir = dir;
      for (size_t i = 0; i < tasks.size(); ++i)
        out.tasks.push_back(
            {out.id + "_" + std::to_string(i), in.task_run_dirs[i], tasks[i].name, "", static_cast<int>(i)});
      return out;
    }
    HPCAI_ASSIGN_OR_RETURN(job, MakeJobRequest(in));
    if (!backend) {
      HPCAI_ASSIGN_OR_RETURN(backend, MakeBackend(backend_name));
      out.api = backend->api();
    }
    Status claimed = Registry::ClaimRunDir(spec.runs_root, out.id);
    if (claimed.ok()) break;
    if (claimed.code() != Code::kFailedPrecondition) return claimed;
    if (tries + 1 >= Registry::kClaimTries) return Registry::ClaimExhausted(spec.runs_root);
  }
  out.dir = dir;

  RunRecord rec;
  rec.kind = out.kind;
  rec.run_id = out.id;
  rec.name = spec.name;
  rec.created = NowIso();
  rec.backend = backend_name;
  rec.spec_hash = out.spec_hash;
  rec.attempts.push_back(NewAttempt(backend_name, dir));

  // Everything the run directory and the index get before the RPC, planned
  // here and written by a background thread (index entries last, so the index
  // never names a run without its files).
  WritePlan plan;
  plan.sync.push_back(spec.runs_root);
  std::vector<IndexEntry> entries;
  if (sweep) {
    for (size_t i = 0; i < tasks.size(); ++i) {
      SubmittedTask t;
      t.index = static_cast<int>(i);
      t.run_id = out.id + "_" + std::to_string(i);
      t.run_dir = in.task_run_dirs[i];
      t.name = tasks[i].name;
      HPCAI_RETURN_IF_ERROR(fs::MakeDirExclusive(t.run_dir));
      RunRecord tr;
      tr.run_id = t.run_id;
      tr.name = t.name;
      tr.created = rec.created;
      tr.backend = backend_name;
      tr.spec_hash = SpecHash(tasks[i]);
      tr.sweep_id = out.id;
      tr.sweep_index = t.index;
      tr.attempts.push_back(NewAttempt(backend_name, dir));
      PlanRunFiles(t.run_dir, CanonicalYaml(tasks[i], false), out.script, tr, &plan);
      entries.push_back({t.run_id, t.run_dir, t.name, "run"});
      rec.tasks.push_back(t.run_id);
      out.tasks.push_back(t);
    }
  }
  PlanRunFiles(dir, canonical_yaml, out.script, rec, &plan);
  entries.push_back({out.id, dir, spec.name, out.kind});
  HPCAI_RETURN_IF_ERROR(fs::MakeDirs(registry.index_dir()));
  for (const IndexEntry& e : entries) {
    plan.AddFile(registry.IndexEntryPath(e.id), Registry::IndexEntryText(e));
    plan.sync.push_back(registry.IndexEntryPath(e.id));
  }
  plan.sync.push_back(registry.index_dir());

  SubmitRequest req;
  req.script_path = fs::Join(dir, "job.sbatch");
  req.script = out.script;
  req.job = job;

  // Each run's record and directory are made durable after the RPC (run.json
  // is rewritten once the job exists).
  std::vector<std::string> records = {fs::Join(dir, "run.json"), dir};
  for (const auto& t : out.tasks) {
    records.push_back(fs::Join(t.run_dir, "run.json"));
    records.push_back(t.run_dir);
  }

  if (sweep && backend_name == "local") {
    // The runner is forked: no other thread may be running then.
    HPCAI_RETURN_IF_ERROR(ExecuteWrites(plan));
    std::vector<SubmittedTask> ts = out.tasks;
    int par = spec.sweep.parallelism;
    for (const auto& t : ts)
      (void)UpdateRunRecord(t.run_dir, [](RunRecord& r) {
        r.attempts.back().state = "PENDING";
        r.attempts.back().reason = "waiting for a local slot";
      });
    auto pid = ForkRunner(fs::Join(dir, "logs/local-runner.log"), [dir, ts, par] { RunLocalSweep(dir, ts, par); });
    out.submit_status = pid.ok() ? Status::OK() : pid.status();
    out.job_id = pid.ok() ? "local-" + std::to_string(*pid) : "";
    HPCAI_RETURN_IF_ERROR(RecordSubmission(dir, out.submit_status, out.job_id, pid.ok() ? *pid : 0, "RUNNING"));
    plan.sync.insert(plan.sync.end(), records.begin(), records.end());
    HPCAI_RETURN_IF_ERROR(DurableBarrier(plan.sync));
    return out;
  }

  // run.json is rewritten once the job id is known (WriteVisible): its temp
  // file is created ahead.
  plan.AddSpareTemp(fs::Join(dir, "run.json"));
  for (const auto& t : out.tasks) plan.AddSpareTemp(fs::Join(t.run_dir, "run.json"));
  // The files are written while the Slurm client loads its configuration and
  // plugins (a no-op for the other backends; its errors come again from
  // Submit), and made durable while the RPC is in flight; after it only the
  // rewritten records are.
  BackgroundWriter early(std::move(plan));
  (void)backend->Prepare();
  HPCAI_RETURN_IF_ERROR(early.WaitWritten());
  auto submitted = backend->Submit(req);
  out.submit_status = submitted.ok() ? Status::OK() : submitted.status();
  std::string live_state = backend_name == "local" ? "RUNNING" : "PENDING";
  if (submitted.ok()) {
    out.job_id = submitted->job_id;
  }
  // `rec` is what run.json holds (nothing else writes it before the job id
  // is recorded), so it is updated without reading the file back.
  ApplySubmission(rec, out.submit_status, out.job_id, submitted.ok() ? submitted->pid : 0, live_state, "");
  HPCAI_RETURN_IF_ERROR(SaveSubmission(dir, rec, /*durable=*/false));
  for (auto& t : out.tasks) {
    if (submitted.ok()) t.job_id = out.job_id + "_" + std::to_string(t.index);
    HPCAI_RETURN_IF_ERROR(RecordSubmission(t.run_dir, out.submit_status, t.job_id, 0, live_state, "", false));
  }
  Status late_st = DurableBarrier(records);
  Status early_st = early.Wait();
  HPCAI_RETURN_IF_ERROR(early_st);
  HPCAI_RETURN_IF_ERROR(late_st);
  return out;
}

// ---- status ------------------------------------------------------------------

Result<std::vector<IndexEntry>> SelectRuns(const Registry& registry, const std::vector<std::string>& refs) {
  HPCAI_ASSIGN_OR_RETURN(std::vector<IndexEntry> all, registry.List());
  if (refs.empty()) return all;
  std::vector<IndexEntry> out;
  std::set<std::string> seen;
  auto add = [&](const IndexEntry& e) {
    if (seen.insert(e.id).second) out.push_back(e);
  };
  for (const std::string& ref : refs) {
    HPCAI_ASSIGN_OR_RETURN(IndexEntry e, Registry::ResolveIn(all, ref));
    add(e);
    if (e.kind == "sweep") {
      for (const auto& x : all)
        if (x.id.rfind(e.id + "_", 0) == 0) add(x);
    }
  }
  return out;
}

namespace {

struct ExitRecord {
  int restart = -1;
  int exit = 0;
};

// The newest exit record of `job_id` in the run's logs/ (highest restart).
std::optional<ExitRecord> LatestExitRecord(const std::string& run_dir, const std::string& job_id) {
  auto names = fs::ListDir(fs::Join(run_dir, "logs"));
  if (!names.ok() || job_id.empty()) return std::nullopt;
  std::string prefix = "exit-" + job_id + "-";
  std::optional<ExitRecord> best;
  for (const std::string& n : *names) {
    if (n.rfind(prefix, 0) != 0 || n.size() < prefix.size() + 6 || n.substr(n.size() - 5) != ".json") continue;
    std::string r = n.substr(prefix.size(), n.size() - 5 - prefix.size());
    if (r.empty() || r.find_first_not_of("0123456789") != std::string::npos) continue;
    int restart = std::atoi(r.c_str());
    if (best && best->restart >= restart) continue;
    auto text = fs::ReadFile(fs::Join(fs::Join(run_dir, "logs"), n), 1 << 16);
    if (!text.ok()) continue;
    auto j = Json::Parse(*text);
    if (!j.ok() || !j->get("exit").is_number()) continue;
    best = ExitRecord{restart, static_cast<int>(j->get("exit").as_int())};
  }
  return best;
}

// Exit code 75 = checkpointed and not requeued: resumable, not a failure.
void ApplyCheckpointedExit(RunStatus& s) {
  if (s.state == "FAILED" && s.exit_code && *s.exit_code == exit_code::kRequeued) {
    s.state = "PREEMPTED";
    s.reason = "checkpointed (exit 75) and not requeued; continue with `hpcai resume " + s.entry.id + "`";
  }
}

std::string CancelledReason(const RunRecord& r) {
  if (r.cancels.empty()) return "";
  const CancelRecord& c = r.cancels.back();
  return c.signal.empty() ? "cancelled with `hpcai cancel` at " + c.at : "";
}

}  // namespace

StatusResult CollectStatus(const std::vector<IndexEntry>& entries, Backend* injected) {
  StatusResult result;
  result.runs.resize(entries.size());
  std::vector<JobRef> slurm_refs, local_refs;
  std::map<std::string, std::string> sweep_runner_alive;  // sweep id -> "yes"/"no"
  for (size_t i = 0; i < entries.size(); ++i) {
    RunStatus& s = result.runs[i];
    s.entry = entries[i];
    if (!fs::IsDir(s.entry.dir)) {
      s.missing = true;
      s.state = "MISSING";
      s.reason = "run directory " + s.entry.dir + " was deleted";
      continue;
    }
    auto rec = LoadRunRecord(s.entry.dir);
    if (!rec.ok()) {
      s.state = "UNREADABLE";
      s.error = rec.status().message();
      s.reason = s.error;
      continue;
    }
    s.record = *rec;
    s.backend = rec->backend;
    if (rec->attempts.empty()) continue;
    const Attempt& a = rec->attempts.back();
    s.job_id = a.job_id;
    s.state = a.state;
    s.reason = a.reason;
    s.restarts = a.restarts;
    s.exit_code = a.exit;
    s.nodes = a.nodes;
    s.node_list = a.node_list;
    s.elapsed_s = a.elapsed_s;
    s.time_limit_min = a.time_limit_min;
    s.live = !IsFinalState(a.state);
    if (rec->kind == "sweep") continue;  // aggregated from its tasks below
    if (!s.live || a.job_id.empty()) continue;
    JobRef ref{a.job_id, a.job_dir, a.pid};
    (a.backend == "local" ? local_refs : slurm_refs).push_back(ref);
  }

  std::map<std::string, JobInfo> slurm_info, local_info;
  bool slurm_ok = true;
  if (!slurm_refs.empty()) {
    Result<std::unique_ptr<Backend>> made = Status::Internal("unused");
    Backend* backend = injected;
    if (!backend) {
      made = MakeBackend("slurm");
      if (made.ok()) backend = made->get();
    }
    int before = backend ? backend->queries() : 0;
    Result<std::map<std::string, JobInfo>> q =
        backend ? backend->Query(slurm_refs) : Result<std::map<std::string, JobInfo>>(made.status());
    if (backend) result.slurm_queries += backend->queries() - before;
    if (q.ok()) {
      slurm_info = std::move(*q);
    } else {
      slurm_ok = false;
      result.warning = q.status().message();
    }
  }
  if (!local_refs.empty()) {
    auto q = MakeLocalBackend()->Query(local_refs);
    if (q.ok()) local_info = std::move(*q);
  }

  // jobcomp/filetxt is read (once) only for Slurm jobs the controller forgot.
  std::optional<std::map<std::string, JobCompRecord>> jobcomp;
  auto jobcomp_for = [&](const std::string& job_id) -> const JobCompRecord* {
    if (!jobcomp) {
      std::set<std::string> wanted;
      for (const auto& r : slurm_refs)
        if (!slurm_info.count(r.job_id)) wanted.insert(r.job_id);
      std::string conf = SlurmConfPath();
      std::string type = conf.empty() ? "" : SlurmConfValue(conf, "JobCompType");
      std::string loc = type == "jobcomp/filetxt" ? SlurmConfValue(conf, "JobCompLoc") : "";
      jobcomp = LoadJobComp(loc, wanted);
    }
    auto it = jobcomp->find(job_id);
    return it == jobcomp->end() ? nullptr : &it->second;
  };

  for (RunStatus& s : result.runs) {
    if (!s.record || s.record->kind == "sweep" || !s.live || s.record->attempts.empty()) continue;
    const Attempt& a = s.record->attempts.back();
    const RunRecord& rec = *s.record;
    if (a.job_id.empty()) {
      if (a.state == kSubmitting && AgeSeconds(a.submitted) > 600) {
        s.state = kSubmitFailed;
        s.reason = "the submission was interrupted before Slurm returned a job id; if a job was created, find it "
                   "with `squeue --name=" + rec.name + "`";
        s.live = false;
      } else if (a.state == "PENDING" && a.backend == "local" && !rec.sweep_id.empty()) {
        // A local sweep task waiting for its runner.
        auto sweep = LoadRunRecord(fs::Dirname(s.entry.dir));
        bool runner = false;
        if (sweep.ok() && !sweep->attempts.empty()) {
          const Attempt& sa = sweep->attempts.back();
          auto p = InspectProcess(sa.pid);
          runner = p.has_value();
        }
        if (!runner) {
          s.state = "CANCELLED";
          s.reason = "the local sweep runner ended before starting this task";
          s.live = false;
        }
      }
    } else if (a.backend == "local") {
      auto it = local_info.find(a.job_id);
      if (it != local_info.end()) {
        s.state = it->second.state;
        s.reason = "";
        s.nodes = 1;
        s.node_list = it->second.node_list;
        s.elapsed_s = it->second.elapsed_s;
      } else {
        auto ex = LatestExitRecord(s.entry.dir, a.job_id);
        s.live = false;
        if (ex) {
          s.exit_code = ex->exit;
          s.state = ex->exit == 0 ? "COMPLETED" : "FAILED";
          s.reason = ex->exit == 0 ? "" : "exit code " + std::to_string(ex->exit);
          if (!CancelledReason(rec).empty() && ex->exit != 0 && ex->exit != exit_code::kRequeued) {
            s.state = "CANCELLED";
            s.reason = CancelledReason(rec);
          }
        } else if (!CancelledReason(rec).empty()) {
          s.state = "CANCELLED";
          s.reason = CancelledReason(rec);
        } else {
          s.state = "FAILED";
          s.reason = "the job's processes ended without an exit record (killed?)";
        }
        ApplyCheckpointedExit(s);
      }
    } else {
      auto it = slurm_info.find(a.job_id);
      if (it != slurm_info.end()) {
        const JobInfo& j = it->second;
        s.state = j.state;
        s.reason = j.reason;
        s.restarts = j.restarts;
        s.nodes = j.nodes;
        s.node_list = j.node_list;
        s.elapsed_s = j.elapsed_s;
        s.time_limit_min = j.time_limit_min;
        s.live = !IsFinalSlurmState(j.state);
        if (!s.live) {
          s.exit_code = j.exit_code;
          if (j.state == "CANCELLED" && !CancelledReason(rec).empty()) s.reason = CancelledReason(rec);
          else if (j.state == "FAILED" && s.reason.empty() && j.exit_code) s.reason = "exit code " + std::to_string(*j.exit_code);
          ApplyCheckpointedExit(s);
        }
      } else if (!slurm_ok) {
        s.state = "UNKNOWN";
        s.reason = "Slurm unreachable; last known state " + a.state;
      } else {
        // The controller forgot the job (MinJobAge passed): jobcomp, then the
        // exit record the script wrote, then our own cancel record.
        auto ex = LatestExitRecord(s.entry.dir, a.job_id);
        if (ex) s.restarts = std::max(s.restarts, ex->restart);
        const JobCompRecord* jc = jobcomp_for(a.job_id);
        std::string jc_state = jc && jc->count("JobState") ? jc->at("JobState") : "";
        if (IsFinalSlurmState(jc_state)) {
          s.state = jc_state;
          s.live = false;
          std::string ec = jc->count("ExitCode") ? jc->at("ExitCode") : "";
          auto colon = ec.find(':');
          if (colon != std::string::npos) {
            int code = std::atoi(ec.substr(0, colon).c_str()), sig = std::atoi(ec.substr(colon + 1).c_str());
            s.exit_code = sig ? 128 + sig : code;
          }
          s.reason = "from Slurm's job completion log";
          if (jc_state == "CANCELLED" && !CancelledReason(rec).empty()) s.reason = CancelledReason(rec);
          ApplyCheckpointedExit(s);
        } else if (ex) {
          s.live = false;
          s.exit_code = ex->exit;
          s.state = ex->exit == 0 ? "COMPLETED" : "FAILED";
          s.reason = ex->exit == 0 ? "" : "exit code " + std::to_string(ex->exit);
          if (!CancelledReason(rec).empty() && ex->exit != 0 && ex->exit != exit_code::kRequeued) {
            s.state = "CANCELLED";
            s.reason = CancelledReason(rec);
          }
          ApplyCheckpointedExit(s);
        } else if (!CancelledReason(rec).empty()) {
          s.state = "CANCELLED";
          s.reason = CancelledReason(rec);
          s.live = false;
        } else {
          s.state = "UNKNOWN";
          s.reason = "Slurm no longer knows job " + a.job_id + " and the job left no exit record";
        }
      }
    }
    // Write back what changed, so the next call needs no query for it.
    // (Elapsed time alone does not trigger a write while the job runs.)
    bool changed = s.state != a.state || s.restarts != a.restarts || s.exit_code != a.exit ||
                   s.reason != a.reason || s.nodes != a.nodes || s.node_list != a.node_list ||
                   s.time_limit_min != a.time_limit_min || (!s.live && s.elapsed_s != a.elapsed_s);
    if (changed) {
      std::string state = s.state, reason = s.reason;
      int restarts = s.restarts;
      auto exit = s.exit_code;
      RunStatus snap = s;
      bool final = !s.live;
      std::string job_id = a.job_id;
      if (state != "UNKNOWN") {
        (void)UpdateRunRecord(s.entry.dir, [&](RunRecord& r) {
          if (r.attempts.empty() || r.attempts.back().job_id != job_id) return;  // a newer attempt exists
          Attempt& x = r.attempts.back();
          x.state = state;
          x.reason = reason;
          x.restarts = restarts;
          x.exit = exit;
          x.nodes = snap.nodes;
          x.node_list = snap.node_list;
          x.elapsed_s = snap.elapsed_s;
          x.time_limit_min = snap.time_limit_min;
          if (final && x.ended.empty()) x.ended = NowIso();
        });
      }
    }
  }

  // Sweeps: aggregate their tasks' states (tasks read here if not listed).
  std::map<std::string, const RunStatus*> by_id;
  for (const RunStatus& s : result.runs) by_id[s.entry.id] = &s;
  for (RunStatus& s : result.runs) {
    if (!s.record || s.record->kind != "sweep") continue;
    std::map<std::string, int> counts;
    bool live = false;
    for (const std::string& tid : s.record->tasks) {
      std::string st;
      auto it = by_id.find(tid);
      if (it != by_id.end()) {
        st = it->second->state;
        live = live || it->second->live;
      } else {
        auto tr = LoadRunRecord(fs::Join(s.entry.dir, tid));
        st = tr.ok() && !tr->attempts.empty() ? tr->attempts.back().state : "MISSING";
        live = live || !IsFinalState(st);
      }
      s.task_states.push_back(st);
      counts[st]++;
    }
    if (!s.record->attempts.empty() && s.record->attempts.back().state == kSubmitFailed) {
      s.live = false;
      continue;
    }
    s.live = live;
    std::string summary;
    for (const auto& [st, n] : counts) summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + st;
    s.reason = std::to_string(s.record->tasks.size()) + " tasks: " + summary;
    if (live) {
      s.state = counts.count("RUNNING") ? "RUNNING" : "PENDING";
    } else if (counts.size() == 1) {
      s.state = counts.begin()->first;
    } else {
      s.state = counts.count("FAILED") ? "FAILED" : (counts.count("CANCELLED") ? "CANCELLED" : "MIXED");
    }
  }
  return result;
}

// ---- cancel ------------------------------------------------------------------

Result<std::string> CancelRun(const IndexEntry& entry, const std::string& signal) {
  HPCAI_ASSIGN_OR_RETURN(RunRecord rec, LoadRunRecord(entry.dir));
  if (rec.attempts.empty()) return Status::FailedPrecondition(entry.id + " has no submitted job");
  // Current state first: a finished run has nothing to cancel.
  StatusResult st = CollectStatus({entry});
  const RunStatus& s = st.runs[0];
  if (!s.live) return entry.id + ": already ended (" + s.state + "), nothing to cancel";
  const Attempt& a = rec.attempts.back();
  std::string what = signal.empty() ? "cancelled" : "sent SIG" + signal + " to";
  auto record = [&](const std::string& dir, const std::string& job_id) {
    return UpdateRunRecord(dir, [&](RunRecord& r) { r.cancels.push_back({NowIso(), job_id, signal}); });
  };

  if (rec.kind == "sweep" && a.backend == "local") {
    // Record first: the runner stops launching tasks when it sees it.
    HPCAI_RETURN_IF_ERROR(record(entry.dir, a.job_id));
    if (signal.empty() && a.pid > 0) (void)::kill(static_cast<pid_t>(a.pid), SIGTERM);
    int n = 0;
    for (const std::string& tid : rec.tasks) {
      std::string tdir = fs::Join(entry.dir, tid);
      auto tr = LoadRunRecord(tdir);
      if (!tr.ok() || tr->attempts.empty()) continue;
      const Attempt& ta = tr->attempts.back();
      if (ta.job_id.empty() || IsFinalState(ta.state)) {
        if (signal.empty() && !IsFinalState(ta.state)) {
          (void)UpdateRunRecord(tdir, [](RunRecord& r) {
            r.attempts.back().state = "CANCELLED";
            r.attempts.back().reason = "sweep cancelled before this task started";
            r.attempts.back().ended = NowIso();
          });
        }
        continue;
      }
      HPCAI_RETURN_IF_ERROR(MakeLocalBackend()->Cancel({ta.job_id, ta.job_dir, ta.pid}, signal));
      HPCAI_RETURN_IF_ERROR(record(tdir, ta.job_id));
      ++n;
    }
    return entry.id + ": " + what + " the local sweep (" + std::to_string(n) + " running task(s))";
  }

  if (a.job_id.empty()) return Status::FailedPrecondition(entry.id + " has no job id yet (state " + a.state + ")");
  HPCAI_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, MakeBackend(a.backend));
  HPCAI_RETURN_IF_ERROR(backend->Cancel({a.job_id, a.job_dir, a.pid}, signal));
  HPCAI_RETURN_IF_ERROR(record(entry.dir, a.job_id));
  if (rec.kind == "sweep") {
    // The array job id covers every task: record it on each.
    for (const std::string& tid : rec.tasks) {
      auto tdir = fs::Join(entry.dir, tid);
      auto tr = LoadRunRecord(tdir);
      if (tr.ok() && !tr->attempts.empty()) (void)record(tdir, tr->attempts.back().job_id);
    }
    return entry.id + ": " + what + " array job " + a.job_id + " (" + std::to_string(rec.tasks.size()) + " tasks)";
  }
  return entry.id + ": " + what + " job " + a.job_id;
}

Result<std::string> SubmitNewAttempt(const IndexEntry& entry, const ResolvedSpec& spec) {
  HPCAI_ASSIGN_OR_RETURN(RunRecord rec, LoadRunRecord(entry.dir));
  if (rec.kind == "sweep")
    return Status::FailedPrecondition(entry.id + " is a sweep; start a new attempt of each task instead");
  StatusResult st = CollectStatus({entry});
  if (st.runs[0].live)
    return Status::FailedPrecondition(entry.id + " is still " + st.runs[0].state + " (job " + st.runs[0].job_id +
                                      "); wait for it or `hpcai cancel " + entry.id + "` first");
  std::string backend_name = rec.backend.empty() ? "slurm" : rec.backend;
  HPCAI_ASSIGN_OR_RETURN(std::string train_binary, ResolveTrainBinary(spec, true));
  ScriptInput in;
  in.spec = spec;
  in.id = rec.run_id;
  in.job_dir = entry.dir;
  in.train_binary = train_binary;
  in.spec_hash = SpecHash(spec);
  HPCAI_ASSIGN_OR_RETURN(std::string script, RenderJobScript(in));
  HPCAI_ASSIGN_OR_RETURN(JobRequest job, MakeJobRequest(in));
  HPCAI_ASSIGN_OR_RETURN(std::unique_ptr<Backend> backend, MakeBackend(backend_name));
  HPCAI_RETURN_IF_ERROR(fs::AtomicWriteFile(fs::Join(entry.dir, "job.sbatch"), script));
  HPCAI_RETURN_IF_ERROR(UpdateRunRecord(entry.dir, [&](RunRecord& r) {
    r.attempts.push_back(NewAttempt(backend_name, entry.dir));
  }));
  SubmitRequest req;
  req.script_path = fs::Join(entry.dir, "job.sbatch");
  req.script = script;
  req.job = job;
  auto submitted = backend->Submit(req);
  Status outcome = submitted.ok() ? Status::OK() : submitted.status();
  HPCAI_RETURN_IF_ERROR(RecordSubmission(entry.dir, outcome, submitted.ok() ? submitted->job_id : "",
                                         submitted.ok() ? submitted->pid : 0,
                                         backend_name == "local" ? "RUNNING" : "PENDING"));
  if (!submitted.ok()) return submitted.status();
  return submitted->job_id;
}

}  // namespace hpcai::slurm
