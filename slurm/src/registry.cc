#include "hpcai/slurm/registry.h"

#include <sys/random.h>
#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <random>

#include "hpcai/base/fs.h"

namespace hpcai::slurm {

namespace {

Json OptInt(const std::optional<int>& v) { return v ? Json(*v) : Json(); }

}  // namespace

std::string NowIso() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json RunRecord::ToJson() const {
  Json j = Json::MakeObject();
  j.set("format", format);
  j.set("kind", kind);
  j.set("run_id", run_id);
  j.set("name", name);
  j.set("created", created);
  j.set("backend", backend);
  j.set("spec_hash", spec_hash);
  if (!sweep_id.empty()) {
    Json s = Json::MakeObject();
    s.set("sweep_id", sweep_id);
    s.set("index", sweep_index);
    j.set("sweep", s);
  } else {
    j.set("sweep", Json());
  }
  if (kind == "sweep") {
    Json t = Json::MakeArray();
    for (const auto& id : tasks) t.push_back(id);
    j.set("tasks", t);
  }
  Json a = Json::MakeArray();
  for (const Attempt& at : attempts) {
    Json x = Json::MakeObject();
    x.set("job_id", at.job_id);
    x.set("backend", at.backend);
    x.set("submitted", at.submitted);
    x.set("state", at.state);
    x.set("exit", OptInt(at.exit));
    x.set("reason", at.reason);
    x.set("restarts", at.restarts);
    x.set("ended", at.ended);
    if (at.pid > 0) x.set("pid", at.pid);
    x.set("job_dir", at.job_dir);
    x.set("nodes", at.nodes);
    x.set("node_list", at.node_list);
    x.set("elapsed_s", at.elapsed_s < 0 ? Json() : Json(at.elapsed_s));
    x.set("time_limit_min", at.time_limit_min < 0 ? Json() : Json(at.time_limit_min));
    a.push_back(x);
  }
  j.set("attempts", a);
  Json c = Json::MakeArray();
  for (const CancelRecord& cr : cancels) {
    Json x = Json::MakeObject();
    x.set("at", cr.at);
    x.set("job_id", cr.job_id);
    x.set("signal", cr.signal);
    c.push_back(x);
  }
  j.set("cancels", c);
  return j;
}

Result<RunRecord> RunRecord::FromJson(const Json& j) {
  if (!j.is_object()) return Status::Corrupt("run.json: expected a JSON object");
  RunRecord r;
  r.format = static_cast<int>(j.get("format").as_int(1));
  if (r.format != 1)
    return Status::Corrupt("run.json: format " + std::to_string(r.format) +
                           " is not understood by this hpcai (expected 1); upgrade hpcai");
  r.kind = j.get("kind").as_string();
  if (r.kind.empty()) r.kind = "run";
  r.run_id = j.get("run_id").as_string();
  if (r.run_id.empty()) return Status::Corrupt("run.json: missing 'run_id'");
  r.name = j.get("name").as_string();
  r.created = j.get("created").as_string();
  r.backend = j.get("backend").as_string();
  r.spec_hash = j.get("spec_hash").as_string();
  const Json& s = j.get("sweep");
  if (s.is_object()) {
    r.sweep_id = s.get("sweep_id").as_string();
    r.sweep_index = static_cast<int>(s.get("index").as_int(-1));
  }
  for (const Json& t : j.get("tasks").as_array()) r.tasks.push_back(t.as_string());
  for (const Json& x : j.get("attempts").as_array()) {
    Attempt at;
    at.job_id = x.get("job_id").as_string();
    at.backend = x.get("backend").as_string();
    at.submitted = x.get("submitted").as_string();
    at.state = x.get("state").as_string();
    if (x.get("exit").is_number()) at.exit = static_cast<int>(x.get("exit").as_int());
    at.reason = x.get("reason").as_string();
    at.restarts = static_cast<int>(x.get("restarts").as_int());
    at.ended = x.get("ended").as_string();
    at.pid = x.get("pid").as_int();
    at.job_dir = x.get("job_dir").as_string();
    at.nodes = static_cast<int>(x.get("nodes").as_int());
    at.node_list = x.get("node_list").as_string();
    at.elapsed_s = x.get("elapsed_s").as_int(-1);
    at.time_limit_min = x.get("time_limit_min").as_int(-1);
    r.attempts.push_back(at);
  }
  for (const Json& x : j.get("cancels").as_array()) {
    r.cancels.push_back({x.get("at").as_string(), x.get("job_id").as_string(), x.get("signal").as_string()});
  }
  return r;
}

Result<RunRecord> LoadRunRecord(const std::string& run_dir) {
  if (!fs::IsDir(run_dir)) return Status::NotFound("run directory '" + run_dir + "' does not exist");
  std::string path = fs::Join(run_dir, "run.json");
  HPCAI_ASSIGN_OR_RETURN(std::string text, fs::ReadFile(path, 16 << 20));
  auto j = Json::Parse(text);
  if (!j.ok()) return Status::Corrupt(path + ": " + j.status().message());
  auto r = RunRecord::FromJson(*j);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

Status SaveRunRecord(const std::string& run_dir, const RunRecord& record) {
  return fs::AtomicWriteFile(fs::Join(run_dir, "run.json"), record.ToJson().dump(2) + "\n");
}

Status UpdateRunRecord(const std::string& run_dir, const std::function<void(RunRecord&)>& change) {
  HPCAI_ASSIGN_OR_RETURN(RunRecord r, LoadRunRecord(run_dir));
  change(r);
  return SaveRunRecord(run_dir, r);
}

std::string Registry::DefaultHome() {
  if (const char* h = std::getenv("HPCAI_HOME"); h && *h) return fs::Absolute(h);
  const char* home = std::getenv("HOME");
  return fs::Join(home && *home ? home : "/tmp", ".hpcai");
}

Registry::Registry(std::string home) : home_(std::move(home)) {}

std::string Registry::CandidateRunId(const std::string& name) {
  // Random bits straight from the kernel: std::random_device probes the CPU
  // with cpuid first, a trap to the hypervisor in a VM (~20 us, a fifth of the
  // whole claim).
  uint16_t r = 0;
  if (::getrandom(&r, sizeof r, 0) != static_cast<ssize_t>(sizeof r)) {
    static thread_local std::mt19937 fallback{static_cast<unsigned>(std::time(nullptr)) ^
                                              static_cast<unsigned>(::getpid())};
    r = static_cast<uint16_t>(fallback());
  }
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char tail[40];
  std::strftime(tail, sizeof tail, "-%Y%m%d-%H%M%S-", &tm);
  char hex[8];
  std::snprintf(hex, sizeof hex, "%04x", static_cast<unsigned>(r));
  return name + tail + hex;
}

Status Registry::ClaimRunDir(const std::string& parent, const std::string& id) {
  HPCAI_RETURN_IF_ERROR(fs::MakeDirs(parent));
  Status s = fs::MakeDirExclusive(fs::Join(parent, id));
  if (s.ok() || s.code() == Code::kFailedPrecondition) return s;
  return s.WithContext("claiming a run directory");
}

Status Registry::ClaimExhausted(const std::string& parent) {
  return Status::Internal("could not claim a unique run id under '" + parent + "' after " +
                          std::to_string(kClaimTries) + " tries");
}

Result<std::string> Registry::ClaimRunId(const std::string& parent, const std::string& name,
                                         std::string* dir) const {
  for (int tries = 0; tries < kClaimTries; ++tries) {
    std::string id = CandidateRunId(name);
    Status s = ClaimRunDir(parent, id);
    if (s.ok()) {
      *dir = fs::Join(parent, id);
      return id;
    }
    if (s.code() != Code::kFailedPrecondition) return s;
  }
  return ClaimExhausted(parent);
}

std::string Registry::IndexEntryText(const IndexEntry& e) { return e.dir + "\n" + e.name + "\n" + e.kind + "\n"; }

Status Registry::AddToIndex(const IndexEntry& e) const {
  HPCAI_RETURN_IF_ERROR(fs::MakeDirs(index_dir()));
  return fs::AtomicWriteFile(IndexEntryPath(e.id), IndexEntryText(e));
}

Result<std::vector<IndexEntry>> Registry::List() const {
  std::vector<IndexEntry> out;
  auto names = fs::ListDir(index_dir());
  if (!names.ok()) {
    if (names.status().code() == Code::kNotFound) return out;
    return names.status();
  }
  out.reserve(names->size());
  for (const std::string& n : *names) {
    if (n.find(".tmp.") != std::string::npos) continue;  // an in-flight atomic write
    auto text = fs::ReadFile(fs::Join(index_dir(), n), 1 << 16);
    if (!text.ok()) continue;
    IndexEntry e;
    e.id = n;
    size_t a = text->find('\n');
    if (a == std::string::npos) continue;
    e.dir = text->substr(0, a);
    size_t b = text->find('\n', a + 1);
    e.name = text->substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    if (b != std::string::npos) {
      size_t c = text->find('\n', b + 1);
      e.kind = text->substr(b + 1, c == std::string::npos ? std::string::npos : c - b - 1);
    }
    if (e.kind.empty()) e.kind = "run";
    out.push_back(std::move(e));
  }
  return out;
}

Result<IndexEntry> Registry::ResolveIn(const std::vector<IndexEntry>& entries, const std::string& ref) {
  if (ref.empty()) return Status::InvalidArgument("empty run reference");
  for (const auto& e : entries)
    if (e.id == ref) return e;
  // A name: its latest run (ids of one name sort by creation time).
  const IndexEntry* latest = nullptr;
  for (const auto& e : entries)
    if (e.name == ref && (!latest || e.id > latest->id)) latest = &e;
  if (latest) return *latest;
  std::vector<const IndexEntry*> hits;
  for (const auto& e : entries)
    if (e.id.compare(0, ref.size(), ref) == 0) hits.push_back(&e);
  // A sweep prefix matches the sweep and all its tasks: prefer the sweep.
  if (hits.size() > 1) {
    std::vector<const IndexEntry*> sweeps;
    for (auto* h : hits)
      if (h->kind == "sweep") sweeps.push_back(h);
    if (sweeps.size() == 1) {
      bool all_in = true;
      for (auto* h : hits)
        if (h != sweeps[0] && h->id.rfind(sweeps[0]->id + "_", 0) != 0) all_in = false;
      if (all_in) return *sweeps[0];
    }
  }
  if (hits.size() == 1) return *hits[0];
  if (hits.empty())
    return Status::NotFound("no run matches '" + ref +
                            "' (not a run id, id prefix or experiment name); list runs with `hpcai status --all`");
  std::string msg = "'" + ref + "' matches " + std::to_string(hits.size()) + " runs:";
  for (size_t i = 0; i < hits.size() && i < 8; ++i) msg += " " + hits[i]->id;
  if (hits.size() > 8) msg += " ...";
  return Status::InvalidArgument(msg + "; give more of the run id");
}

Result<IndexEntry> Registry::Resolve(const std::string& ref) const {
  HPCAI_ASSIGN_OR_RETURN(auto entries, List());
  return ResolveIn(entries, ref);
}

}  // namespace hpcai::slurm
