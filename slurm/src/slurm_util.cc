#include "slurm_util.h"

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "hpcai/base/fs.h"

namespace hpcai::slurm {

namespace {
bool Contains(const std::string& hay, const char* needle) {
  std::string h = hay, n = needle;
  for (auto& c : h) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h.find(n) != std::string::npos;
}
std::string Trim(const std::string& s) {
  size_t a = s.find_first_not_of(" \t\r\n");
  if (a == std::string::npos) return "";
  size_t b = s.find_last_not_of(" \t\r\n");
  return s.substr(a, b - a + 1);
}
}  // namespace

SlurmErrorKind ClassifySlurmError(const std::string& m) {
  if (Contains(m, "connect failure") || Contains(m, "unable to contact") ||
      Contains(m, "communication connection failure") || Contains(m, "connection refused") ||
      Contains(m, "could not establish a configuration source") || Contains(m, "unable to establish"))
    return SlurmErrorKind::kUnreachable;
  if (Contains(m, "socket timed out") || Contains(m, "try again") || Contains(m, "temporarily unavailable") ||
      Contains(m, "controller is busy") || Contains(m, "zero bytes were transmitted") || Contains(m, "standby mode") ||
      Contains(m, "send/recv"))
    return SlurmErrorKind::kTransient;
  return SlurmErrorKind::kRefused;
}

Status SlurmRefusal(const std::string& what, const std::string& slurm_message) {
  std::string msg = Trim(slurm_message);
  std::string hint;
  if (Contains(msg, "partition"))
    hint = "list the partitions with `sinfo -s` and set resources.partition (or remove it for the default)";
  else if (Contains(msg, "time limit"))
    hint = "resources.time exceeds the partition's MaxTime: see `sinfo -o '%P %l'`";
  else if (Contains(msg, "node configuration") || Contains(msg, "node count") || Contains(msg, "nodes busy") ||
           Contains(msg, "memory") || Contains(msg, "more processors"))
    hint = "no node can satisfy resources (nodes, tasks_per_node, cpus_per_task, mem, gpus_per_node): "
           "compare with `sinfo -N -l`";
  else if (Contains(msg, "account"))
    hint = "check resources.account against `sacctmgr show assoc user=$USER`";
  else if (Contains(msg, "qos"))
    hint = "check resources.qos against `sacctmgr show qos`";
  else if (Contains(msg, "feature") || Contains(msg, "constraint"))
    hint = "resources.constraint names a feature no node has: see `sinfo -o '%N %f'`";
  else if (Contains(msg, "limit"))
    hint = "a QOS/association limit refused the job: ask `sacctmgr show assoc` or your admins";
  else
    hint = "fix the spec (hpcai validate SPEC) and submit again";
  return Status::Refused(what + " refused by Slurm: " + msg + "\n  hint: " + hint);
}

Status SlurmUnreachable(const std::string& what, const std::string& slurm_message) {
  std::string conf = std::getenv("SLURM_CONF") ? std::getenv("SLURM_CONF") : "/etc/slurm/slurm.conf";
  return Status::Unavailable(what + ": Slurm is configured here (" + conf + ") but its controller did not answer: " +
                             Trim(slurm_message) +
                             "\n  hint: check `scontrol ping` and `sinfo`; hpcai never falls back to running "
                             "locally when Slurm is configured (use --backend local explicitly)");
}

RetryPolicy DefaultRetryPolicy() {
  RetryPolicy p;
  if (const char* e = std::getenv("HPCAI_SLURM_RETRIES"); e && *e) {
    int n = std::atoi(e);
    if (n >= 1 && n <= 20) p.attempts = n;
  }
  return p;
}

Status RetryTransient(const RetryPolicy& policy, const std::string& what,
                      const std::function<Status(std::string*)>& op,
                      const std::function<void(std::chrono::milliseconds)>& sleep) {
  auto delay = policy.first_delay;
  std::string last_message;
  for (int i = 0; i < policy.attempts; ++i) {
    std::string message;
    Status s = op(&message);
    if (s.ok()) return s;
    // Only raw Slurm errors are classified; anything else is already final.
    if (s.code() != Code::kRefused && s.code() != Code::kUnavailable) return s;
    if (message.empty()) message = s.message();
    last_message = message;
    SlurmErrorKind kind = ClassifySlurmError(message);
    if (kind == SlurmErrorKind::kRefused) return SlurmRefusal(what, message);
    // libslurm (and every Slurm command) already retried the connection for
    // MessageTimeout seconds: another round would only multiply the wait.
    if (kind == SlurmErrorKind::kUnreachable) return SlurmUnreachable(what, message);
    if (i + 1 < policy.attempts) {
      if (sleep) sleep(delay);
      else std::this_thread::sleep_for(delay);
      delay *= 2;
    }
  }
  return Status::Unavailable(what + ": Slurm stayed busy after " + std::to_string(policy.attempts) +
                             " tries: " + Trim(last_message) +
                             "\n  hint: the controller is overloaded; try again later ($HPCAI_SLURM_RETRIES "
                             "sets the number of tries)");
}

int ParseSignal(const std::string& in) {
  std::string n = in;
  for (auto& c : n) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (n.rfind("SIG", 0) == 0) n = n.substr(3);
  if (!n.empty() && n.find_first_not_of("0123456789") == std::string::npos) {
    int v = std::atoi(n.c_str());
    return v > 0 && v < 65 ? v : 0;
  }
  static const std::pair<const char*, int> kSignals[] = {
      {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL}, {"USR1", SIGUSR1},
      {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"ALRM", SIGALRM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP},
      {"TSTP", SIGTSTP}, {"XCPU", SIGXCPU}};
  for (const auto& [name, num] : kSignals)
    if (n == name) return num;
  return 0;
}

int64_t ParseSlurmDuration(const std::string& text) {
  std::string t = Trim(text);
  if (t.empty() || t.find_first_not_of("0123456789:-") != std::string::npos) return -1;
  int64_t days = 0;
  auto dash = t.find('-');
  if (dash != std::string::npos) {
    days = std::atoll(t.substr(0, dash).c_str());
    t = t.substr(dash + 1);
  }
  std::vector<int64_t> parts;
  size_t start = 0;
  while (true) {
    size_t c = t.find(':', start);
    parts.push_back(std::atoll(t.substr(start, c == std::string::npos ? std::string::npos : c - start).c_str()));
    if (c == std::string::npos) break;
    start = c + 1;
  }
  int64_t s = 0;
  if (parts.size() == 1) s = dash != std::string::npos ? parts[0] * 3600 : parts[0] * 60;  // "D-HH" or "MM"
  else if (parts.size() == 2) s = dash != std::string::npos ? parts[0] * 3600 + parts[1] * 60 : parts[0] * 60 + parts[1];
  else if (parts.size() == 3) s = parts[0] * 3600 + parts[1] * 60 + parts[2];
  else return -1;
  return days * 86400 + s;
}

std::string SlurmConfValue(const std::string& conf_path, const std::string& key) {
  auto text = fs::ReadFile(conf_path, 16 << 20);
  if (!text.ok()) return "";
  std::string want = key;
  for (auto& c : want) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t pos = 0;
  std::string value;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    std::string line = text->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text->size() : nl + 1;
    auto hash = line.find('#');
    if (hash != std::string::npos) line = line.substr(0, hash);
    line = Trim(line);
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string k = Trim(line.substr(0, eq));
    for (auto& c : k) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (k == want) value = Trim(line.substr(eq + 1));  // the last one wins, like Slurm
  }
  return value;
}

std::map<std::string, JobCompRecord> LoadJobComp(const std::string& path, const std::set<std::string>& wanted) {
  std::map<std::string, JobCompRecord> out;
  if (path.empty() || wanted.empty()) return out;
  auto text = fs::ReadFile(path, size_t{1} << 30);
  if (!text.ok()) return out;
  size_t pos = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    std::string line = text->substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text->size() : nl + 1;
    if (line.compare(0, 6, "JobId=") != 0) continue;
    JobCompRecord rec;
    size_t i = 0;
    // Fields are "Key=value" separated by single spaces; values have no spaces
    // except in Name= (job names are validated by hpcai, other jobs do not matter).
    while (i < line.size()) {
      size_t sp = line.find(' ', i);
      std::string field = line.substr(i, sp == std::string::npos ? std::string::npos : sp - i);
      i = sp == std::string::npos ? line.size() : sp + 1;
      auto eq = field.find('=');
      if (eq != std::string::npos) rec[field.substr(0, eq)] = field.substr(eq + 1);
    }
    std::string key = rec["JobId"];
    if (rec.count("ArrayJobId") && rec.count("ArrayTaskId")) key = rec["ArrayJobId"] + "_" + rec["ArrayTaskId"];
    if (wanted.count(key)) out[key] = std::move(rec);
  }
  return out;
}

bool IsFinalSlurmState(const std::string& s) {
  return s == "COMPLETED" || s == "FAILED" || s == "CANCELLED" || s == "TIMEOUT" || s == "PREEMPTED" ||
         s == "NODE_FAIL" || s == "OUT_OF_MEMORY" || s == "BOOT_FAIL" || s == "DEADLINE";
}

}  // namespace hpcai::slurm
