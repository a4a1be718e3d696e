#include "run_view.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <thread>

#include "common.h"
#include "hpcai/base/fs.h"
#include "hpcai/slurm/rank_logs.h"

namespace hpcai::cli {

std::string FormatDuration(int64_t s) {
  if (s < 0) return "-";
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", static_cast<long long>(s));
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  else if (s < 86400) std::snprintf(buf, sizeof buf, "%lldh%02lldm", static_cast<long long>(s / 3600), static_cast<long long>(s % 3600 / 60));
  else std::snprintf(buf, sizeof buf, "%lldd%02lldh", static_cast<long long>(s / 86400), static_cast<long long>(s % 86400 / 3600));
  return buf;
}

std::string StateColored(const std::string& state, bool color) {
  const char* code = nullptr;
  if (state == "RUNNING" || state == "COMPLETING") code = "32";
  else if (state == "COMPLETED") code = "32;1";
  else if (state == "PENDING" || state == "REQUEUED" || state == "SUBMITTING" || state == "SUSPENDED") code = "33";
  else if (state == "PREEMPTED") code = "36";
  else if (state == "MISSING" || state == "UNKNOWN" || state == "UNREADABLE") code = "35";
  else code = "31";
  return Colorize(state, code, color);
}

std::vector<RunRow> MakeRows(const std::vector<slurm::RunStatus>& runs) {
  std::map<std::string, const slurm::RunStatus*> by_id;
  for (const auto& r : runs) by_id[r.entry.id] = &r;
  auto created = [](const slurm::RunStatus& r) { return r.record ? r.record->created : std::string(); };
  std::vector<const slurm::RunStatus*> top;
  std::map<std::string, std::vector<const slurm::RunStatus*>> children;
  for (const auto& r : runs) {
    std::string parent = r.record ? r.record->sweep_id : "";
    if (!parent.empty() && by_id.count(parent)) children[parent].push_back(&r);
    else top.push_back(&r);
  }
  std::stable_sort(top.begin(), top.end(), [&](auto* a, auto* b) {
    return std::make_pair(created(*a), a->entry.id) < std::make_pair(created(*b), b->entry.id);
  });
  std::vector<RunRow> rows;
  auto add = [&](const slurm::RunStatus* s, int depth) {
    RunRow row;
    row.status = *s;
    row.depth = depth;
    if (!s->missing && s->record && s->record->kind != "sweep") {
      const io::RunPaths paths{s->entry.dir};
      auto hb = io::ReadHeartbeat(paths);
      if (hb.ok()) {
        // The trainer asked its job script for a requeue; when `scontrol
        // requeue` failed, the script says so in the exit record.
        if (hb->phase == "preempted" && hb->note.rfind("requeue requested", 0) == 0) {
          if (auto text = fs::ReadFile(paths.exit_file(hb->job_id, hb->restart), 1 << 16); text.ok()) {
            auto ex = Json::Parse(*text);
            if (ex.ok() && !ex->get("requeue").as_string().empty())
              hb->note = "requeue " + ex->get("requeue").as_string();
          }
        }
        row.heartbeat = *hb;
      }
    }
    rows.push_back(std::move(row));
  };
  for (auto* s : top) {
    add(s, 0);
    auto it = children.find(s->entry.id);
    if (it == children.end()) continue;
    auto kids = it->second;
    std::sort(kids.begin(), kids.end(), [](auto* a, auto* b) {
      return a->record->sweep_index < b->record->sweep_index;
    });
    for (auto* k : kids) add(k, 1);
  }
  return rows;
}

void PrintStatusTable(std::ostream& out, const std::vector<RunRow>& rows, bool color) {
  const std::vector<std::string> head = {"RUN", "JOB", "STATE", "REASON", "NODES", "ELAPSED/LIMIT",
                                         "RESTARTS", "STEP", "EPOCH", "LOSS", "VAL ACC", "SAMPLES/S"};
  std::vector<std::vector<std::string>> cells;
  for (const RunRow& r : rows) {
    const auto& s = r.status;
    std::string reason = s.reason;
    // A checkpointed run that stopped for good: say why it was not requeued
    // ("requeue requested" alone: the job script did not act on it, so the
    // generic reason from the exit code stands; "requeued": older trainers).
    const std::string note = r.heartbeat ? r.heartbeat->note : "";
    if (s.state == "PREEMPTED" && r.heartbeat && r.heartbeat->phase == "preempted" && !note.empty() &&
        note.rfind("requeue requested", 0) != 0 && note.rfind("requeued", 0) != 0)
      reason = note + "; hpcai resume";
    if (s.exit_code && *s.exit_code != 0 && reason.find("exit") == std::string::npos &&
        (s.state == "FAILED" || s.state == "PREEMPTED"))
      reason = "exit " + std::to_string(*s.exit_code) + (reason.empty() ? "" : "; " + reason);
    if (reason.size() > 48) reason = reason.substr(0, 45) + "...";
    std::string limit = s.time_limit_min < 0 ? "-" : FormatDuration(s.time_limit_min * 60);
    std::string elapsed = s.elapsed_s < 0 && s.time_limit_min < 0 ? "-" : FormatDuration(s.elapsed_s) + "/" + limit;
    std::string step = "-", epoch = "-", loss = "-", val = "-", sps = "-";
    if (r.heartbeat) {
      const auto& h = *r.heartbeat;
      step = std::to_string(h.step) + "/" + std::to_string(h.total_steps);
      epoch = std::to_string(h.epoch) + "/" + std::to_string(h.epochs);
      char b[32];
      std::snprintf(b, sizeof b, "%.4f", h.loss);
      loss = b;
      if (h.val_accuracy >= 0) {
        std::snprintf(b, sizeof b, "%.2f%%", h.val_accuracy * (h.val_accuracy <= 1.0 ? 100.0 : 1.0));
        val = b;
      }
      std::snprintf(b, sizeof b, "%.0f", h.samples_per_sec);
      sps = b;
    }
    std::string id = std::string(r.depth ? "  " : "") + s.entry.id;
    cells.push_back({id, s.job_id.empty() ? "-" : s.job_id, s.state.empty() ? "-" : s.state,
                     reason.empty() ? "-" : reason, s.nodes > 0 ? std::to_string(s.nodes) : "-", elapsed,
                     std::to_string(s.restarts), step, epoch, loss, val, sps});
  }
  std::vector<size_t> width(head.size());
  for (size_t c = 0; c < head.size(); ++c) {
    width[c] = head[c].size();
    for (const auto& row : cells) width[c] = std::max(width[c], row[c].size());
  }
  auto line = [&](const std::vector<std::string>& row, bool is_head) {
    std::string l;
    for (size_t c = 0; c < row.size(); ++c) {
      std::string text = row[c];
      size_t pad = width[c] - text.size();
      if (!is_head && c == 2) text = StateColored(text, color);
      if (is_head) text = Colorize(text, "1", color);
      l += text;
      if (c + 1 < row.size()) l += std::string(pad + 2, ' ');
    }
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out << l << "\n";
  };
  line(head, true);
  for (const auto& row : cells) line(row, false);
}

Json StatusJson(const std::vector<RunRow>& rows, const slurm::StatusResult& result) {
  Json runs = Json::MakeArray();
  for (const RunRow& r : rows) {
    const auto& s = r.status;
    Json j = Json::MakeObject();
    j.set("run_id", s.entry.id);
    j.set("kind", s.record ? s.record->kind : s.entry.kind);
    j.set("name", s.record ? s.record->name : s.entry.name);
    j.set("run_dir", s.entry.dir);
    j.set("created", s.record ? Json(s.record->created) : Json());
    j.set("backend", s.backend);
    j.set("job_id", s.job_id.empty() ? Json() : Json(s.job_id));
    j.set("state", s.state);
    j.set("reason", s.reason);
    j.set("live", s.live);
    j.set("exit_code", s.exit_code ? Json(*s.exit_code) : Json());
    j.set("restarts", s.restarts);
    j.set("attempts", s.record ? static_cast<int>(s.record->attempts.size()) : 0);
    j.set("nodes", s.nodes);
    j.set("node_list", s.node_list);
    j.set("elapsed_s", s.elapsed_s < 0 ? Json() : Json(s.elapsed_s));
    j.set("time_limit_s", s.time_limit_min < 0 ? Json() : Json(s.time_limit_min * 60));
    if (s.record && !s.record->sweep_id.empty()) {
      j.set("sweep_id", s.record->sweep_id);
      j.set("sweep_index", s.record->sweep_index);
    } else {
      j.set("sweep_id", Json());
      j.set("sweep_index", Json());
    }
    Json tasks = Json::MakeArray();
    if (s.record && s.record->kind == "sweep") {
      for (size_t i = 0; i < s.record->tasks.size(); ++i) {
        Json t = Json::MakeObject();
        t.set("run_id", s.record->tasks[i]);
        t.set("state", i < s.task_states.size() ? s.task_states[i] : "");
        tasks.push_back(t);
      }
    }
    j.set("tasks", tasks);
    if (r.heartbeat) {
      const auto& h = *r.heartbeat;
      Json p = Json::MakeObject();
      p.set("step", h.step);
      p.set("total_steps", h.total_steps);
      p.set("epoch", h.epoch);
      p.set("epochs", h.epochs);
      p.set("loss", h.loss);
      p.set("val_accuracy", h.val_accuracy < 0 ? Json() : Json(h.val_accuracy));
      p.set("samples_per_sec", h.samples_per_sec);
      p.set("eta_seconds", h.eta_seconds < 0 ? Json() : Json(h.eta_seconds));
      p.set("phase", h.phase);
      p.set("note", h.note.empty() ? Json() : Json(h.note));
      p.set("updated_at", h.updated_at);
      j.set("progress", p);
    } else {
      j.set("progress", Json());
    }
    runs.push_back(j);
  }
  Json out = Json::MakeObject();
  out.set("format", 1);
  out.set("runs", runs);
  out.set("slurm_queries", result.slurm_queries);
  out.set("warning", result.warning.empty() ? Json() : Json(result.warning));
  return out;
}

std::vector<LogSegment> ListLogSegments(const std::string& run_dir, const slurm::RunRecord& record) {
  std::vector<LogSegment> segs;
  std::string logs = fs::Join(run_dir, "logs");
  auto names = fs::ListDir(logs);
  if (!names.ok()) return segs;
  for (size_t a = 0; a < record.attempts.size(); ++a) {
    const auto& at = record.attempts[a];
    if (at.job_id.empty()) continue;
    std::string prefix = "slurm-" + at.job_id + "-";
    std::vector<int> restarts;
    for (const auto& n : *names) {
      if (n.rfind(prefix, 0) != 0) continue;
      std::string rest = n.substr(prefix.size());
      auto dot = rest.find('.');
      if (dot == std::string::npos) continue;
      std::string r = rest.substr(0, dot), ext = rest.substr(dot);
      if (r.empty() || r.find_first_not_of("0123456789") != std::string::npos || (ext != ".out" && ext != ".err")) continue;
      int v = std::atoi(r.c_str());
      if (std::find(restarts.begin(), restarts.end(), v) == restarts.end()) restarts.push_back(v);
    }
    std::sort(restarts.begin(), restarts.end());
    std::string job_logs = fs::Join(at.job_dir.empty() ? run_dir : at.job_dir, "logs");
    for (int r : restarts) {
      LogSegment s;
      s.attempt = static_cast<int>(a);
      s.job_id = at.job_id;
      s.restart = r;
      s.out = fs::Join(logs, prefix + std::to_string(r) + ".out");
      s.err = fs::Join(logs, prefix + std::to_string(r) + ".err");
      s.slurm_out = fs::Join(job_logs, "slurm-" + at.job_id + ".out");
      s.slurm_err = fs::Join(job_logs, "slurm-" + at.job_id + ".err");
      s.exit_file = fs::Join(logs, "exit-" + at.job_id + "-" + std::to_string(r) + ".json");
      segs.push_back(s);
    }
  }
  return segs;
}

namespace {

std::atomic<bool> g_interrupted{false};
void OnSigint(int) { g_interrupted = true; }

// Reads bytes [pos, end) of a file; advances pos.
std::string ReadFrom(const std::string& path, size_t* pos) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return "";
  std::string out;
  if (std::fseek(f, static_cast<long>(*pos), SEEK_SET) == 0) {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  }
  std::fclose(f);
  *pos += out.size();
  return out;
}

std::string ProgressLine(const io::Heartbeat& h) {
  char buf[256];
  double pct = h.total_steps > 0 ? 100.0 * static_cast<double>(h.step) / static_cast<double>(h.total_steps) : 0;
  std::snprintf(buf, sizeof buf, "hpcai: [%s] step %lld/%lld (%.1f%%) epoch %lld/%lld loss %.4f", h.phase.c_str(),
                static_cast<long long>(h.step), static_cast<long long>(h.total_steps), pct,
                static_cast<long long>(h.epoch), static_cast<long long>(h.epochs), h.loss);
  std::string s = buf;
  if (h.val_accuracy >= 0) {
    std::snprintf(buf, sizeof buf, " val %.2f%%", h.val_accuracy * (h.val_accuracy <= 1.0 ? 100.0 : 1.0));
    s += buf;
  }
  std::snprintf(buf, sizeof buf, " %.0f samples/s", h.samples_per_sec);
  s += buf;
  if (h.eta_seconds >= 0) s += " ETA " + FormatDuration(static_cast<int64_t>(h.eta_seconds));
  return s;
}

}  // namespace

std::string LastLines(const std::string& text, int n) {
  if (n < 0) return text;
  if (n == 0) return "";
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;
  size_t pos = end;
  int count = 0;
  while (pos > 0) {
    if (text[pos - 1] == '\n' && ++count == n) break;
    --pos;
  }
  return text.substr(pos);
}

slurm::RunStatus FollowRun(const slurm::IndexEntry& entry, const FollowOptions& opt, std::ostream& out) {
  g_interrupted = false;
  auto old = std::signal(SIGINT, OnSigint);
  auto path_of = [&](const LogSegment& s) {
    if (opt.rank >= 0) return slurm::RankLogPath(entry.dir, opt.rank, s.job_id, s.restart);
    return opt.stderr_stream ? s.err : s.out;
  };
  std::optional<LogSegment> cur;
  size_t pos = 0;
  bool first = true;
  double last_hb = -1;
  auto last_progress = std::chrono::steady_clock::now() - std::chrono::hours(1);
  std::string last_phase;
  auto next_state = std::chrono::steady_clock::now();
  slurm::RunStatus status;
  bool final = false;
  while (true) {
    auto rec = slurm::LoadRunRecord(entry.dir);
    std::vector<LogSegment> segs;
    if (rec.ok()) segs = ListLogSegments(entry.dir, *rec);
    if (!cur) {
      if (!segs.empty()) {
        // Segments present at start: their tail; ones that appear later: in full.
        cur = segs.back();
        pos = 0;
        std::string all = ReadFrom(path_of(*cur), &pos);
        out << (first ? LastLines(all, opt.initial_lines) : all) << std::flush;
      }
    } else {
      std::string data = ReadFrom(path_of(*cur), &pos);
      if (!data.empty()) out << data << std::flush;
      size_t idx = segs.size();
      for (size_t i = 0; i < segs.size(); ++i)
        if (segs[i].job_id == cur->job_id && segs[i].restart == cur->restart) idx = i;
      while (idx + 1 < segs.size()) {
        cur = segs[++idx];
        pos = 0;
        out << "==== hpcai: job " << cur->job_id << " restart " << cur->restart << " ====\n";
        out << ReadFrom(path_of(*cur), &pos) << std::flush;
      }
    }
    first = false;
    if (final || g_interrupted) break;
    if (opt.progress) {
      auto hb = io::ReadHeartbeat(io::RunPaths{entry.dir});
      auto now = std::chrono::steady_clock::now();
      if (hb.ok() && hb->updated_at != last_hb &&
          (now - last_progress >= std::chrono::seconds(2) || hb->phase != last_phase)) {
        std::cerr << ProgressLine(*hb) << std::endl;
        last_hb = hb->updated_at;
        last_phase = hb->phase;
        last_progress = now;
      }
    }
    if (std::chrono::steady_clock::now() >= next_state) {
      status = slurm::CollectStatus({entry}).runs[0];
      // One more drain pass after the final state: the job wrote its last lines before ending.
      if (!status.live) final = true;
      next_state = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int>(opt.state_seconds * 1000));
      if (final) continue;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(opt.poll_seconds * 1000)));
  }
  std::signal(SIGINT, old);
  if (cur && final && opt.rank < 0) {
    // Slurm's own messages (time limit, cancellation, node failure) for the job.
    for (const std::string& p : {cur->slurm_err, cur->slurm_out}) {
      auto text = fs::ReadFile(p, 1 << 20);
      if (!text.ok() || text->empty()) continue;
      size_t start = 0;
      while (start < text->size()) {
        size_t nl = text->find('\n', start);
        std::string l = text->substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        start = nl == std::string::npos ? text->size() : nl + 1;
        if (!l.empty()) out << "slurm: " << l << "\n";
      }
    }
  }
  if (!final) status = slurm::CollectStatus({entry}).runs[0];
  return status;
}

int OutcomeExitCode(const slurm::RunStatus& s) {
  if (s.state == "COMPLETED") return exit_code::kOk;
  if (s.state == "PREEMPTED" && s.exit_code && *s.exit_code == exit_code::kRequeued) return exit_code::kRequeued;
  if (s.state == "FAILED" && s.exit_code && *s.exit_code > 0 && *s.exit_code < 256) return *s.exit_code;
  return exit_code::kFailure;
}

}  // namespace hpcai::cli
