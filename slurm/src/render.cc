// job.sbatch rendering (contract in render.h; layout documented in docs/slurm.md).
#include "hpcai/slurm/render.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <sstream>

#include "hpcai/base/fs.h"

namespace hpcai::slurm {

namespace {

bool IsIn(char c, const char* extra) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  for (const char* p = extra; *p; ++p)
    if (*p == c) return true;
  return false;
}

std::string Printable(const std::string& v) {
  std::string out;
  for (unsigned char c : v) {
    if (c == '\n') out += "\\n";
    else if (c < 0x20 || c == 0x7f) out += "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    else out += static_cast<char>(c);
  }
  return out;
}

// Values Slurm reads on #SBATCH lines.  Slurm's own parser splits on
// whitespace and honours quotes and '#', and a newline would end the comment
// and start a shell line, so only a conservative character set passes.
Status CheckToken(const std::string& key, const std::string& value, const char* extra,
                  const char* allowed_desc, size_t max_len = 128) {
  if (value.empty()) return Status::InvalidArgument(key + ": must not be empty");
  if (value.size() > max_len)
    return Status::InvalidArgument(key + ": '" + Printable(value) + "' is longer than " +
                                   std::to_string(max_len) + " characters");
  for (char c : value) {
    if (!IsIn(c, extra)) {
      return Status::InvalidArgument(key + ": '" + Printable(value) + "' contains '" +
                                     Printable(std::string(1, c)) + "'; allowed: " + allowed_desc);
    }
  }
  return Status::OK();
}

Status CheckNoNul(const std::string& key, const std::string& value) {
  if (value.find('\0') != std::string::npos)
    return Status::InvalidArgument(key + ": contains a NUL byte");
  return Status::OK();
}

// Paths on #SBATCH lines (--chdir/--output/--error).  '%' would be taken as
// a Slurm filename pattern, whitespace/quotes/'#' would split the option.
Status CheckSbatchPath(const std::string& key, const std::string& path) {
  if (path.empty() || path[0] != '/')
    return Status::InvalidArgument(key + ": '" + Printable(path) + "' must be an absolute path");
  Status s = CheckToken(key, path, "/._+,:@=~-",
                        "letters, digits and / . _ + , : @ = ~ - (Slurm's #SBATCH parser and "
                        "filename patterns give other characters a meaning; choose another runs_root)",
                        4000);
  return s;
}

std::string Pad(const std::string& s, size_t width) {
  if (s.size() >= width) return s + " ";
  return s + std::string(width - s.size(), ' ');
}

}  // namespace

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  out += "'";
  return out;
}

int SignalNumber(const std::string& name) {
  if (name == "USR1") return SIGUSR1;
  if (name == "USR2") return SIGUSR2;
  if (name == "TERM") return SIGTERM;
  if (name == "INT") return SIGINT;
  if (name == "HUP") return SIGHUP;
  return 0;
}

Result<int64_t> ParseMemMiB(const std::string& mem) {
  size_t i = 0;
  int64_t n = 0;
  while (i < mem.size() && mem[i] >= '0' && mem[i] <= '9') {
    if (n > (int64_t{1} << 40)) break;
    n = n * 10 + (mem[i] - '0');
    ++i;
  }
  std::string suffix = mem.substr(i);
  auto bad = [&] {
    return Status::InvalidArgument("resources.mem: '" + Printable(mem) +
                                   "' is not a Slurm memory size; expected <integer>[K|M|G|T], e.g. 4G or 500M");
  };
  if (i == 0 || i > 12 || suffix.size() > 1) return bad();
  char u = suffix.empty() ? 'M' : suffix[0];
  switch (u) {
    case 'K': case 'k': return (n + 1023) / 1024;
    case 'M': case 'm': return n;
    case 'G': case 'g': return n * 1024;
    case 'T': case 't': return n * 1024 * 1024;
    default: return bad();
  }
}

Result<int64_t> ParseTimeMinutes(const std::string& time) {
  auto bad = [&] {
    return Status::InvalidArgument("resources.time: '" + Printable(time) +
                                   "' is not a Slurm time; expected MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS");
  };
  if (time.empty() || time.size() > 20) return bad();
  int64_t days = 0;
  std::string rest = time;
  bool has_days = false;
  auto dash = time.find('-');
  if (dash != std::string::npos) {
    has_days = true;
    std::string d = time.substr(0, dash);
    rest = time.substr(dash + 1);
    if (d.empty() || d.size() > 5) return bad();
    for (char c : d) {
      if (c < '0' || c > '9') return bad();
      days = days * 10 + (c - '0');
    }
  }
  std::vector<int64_t> parts;
  std::string cur;
  for (size_t i = 0; i <= rest.size(); ++i) {
    if (i == rest.size() || rest[i] == ':') {
      if (cur.empty() || cur.size() > 7) return bad();
      int64_t v = 0;
      for (char c : cur) {
        if (c < '0' || c > '9') return bad();
        v = v * 10 + (c - '0');
      }
      parts.push_back(v);
      cur.clear();
    } else {
      cur += rest[i];
    }
  }
  int64_t h = 0, m = 0, s = 0;
  if (has_days) {
    if (parts.size() == 1) h = parts[0];
    else if (parts.size() == 2) { h = parts[0]; m = parts[1]; }
    else if (parts.size() == 3) { h = parts[0]; m = parts[1]; s = parts[2]; }
    else return bad();
  } else {
    if (parts.size() == 1) m = parts[0];
    else if (parts.size() == 2) { m = parts[0]; s = parts[1]; }
    else if (parts.size() == 3) { h = parts[0]; m = parts[1]; s = parts[2]; }
    else return bad();
  }
  int64_t secs = ((days * 24 + h) * 60 + m) * 60 + s;
  if (secs <= 0) {
    return Status::InvalidArgument("resources.time: '" + Printable(time) + "' is zero; give the job a time limit");
  }
  return (secs + 59) / 60;
}

Result<JobRequest> MakeJobRequest(const ScriptInput& in) {
  const ResolvedSpec& spec = in.spec;
  const ResourcesSpec& r = spec.resources;
  JobRequest j;
  // The name is validated by configs; checked again because it reaches
  // #SBATCH and is cheap to check.
  HPCAI_RETURN_IF_ERROR(CheckToken("name", spec.name, "._-", "letters, digits, '.', '_', '-'", 64));
  if (spec.name[0] == '.' || spec.name[0] == '-')
    return Status::InvalidArgument("name: '" + spec.name + "' must not start with '.' or '-'");
  j.job_name = spec.name;
  if (r.nodes < 1 || r.nodes > 100000)
    return Status::InvalidArgument("resources.nodes: " + std::to_string(r.nodes) + " is out of range 1..100000");
  if (r.tasks_per_node < 1 || r.tasks_per_node > 4096)
    return Status::InvalidArgument("resources.tasks_per_node: " + std::to_string(r.tasks_per_node) +
                                   " is out of range 1..4096");
  if (r.cpus_per_task < 1 || r.cpus_per_task > 4096)
    return Status::InvalidArgument("resources.cpus_per_task: " + std::to_string(r.cpus_per_task) +
                                   " is out of range 1..4096");
  if (r.gpus_per_node < 0 || r.gpus_per_node > 1024)
    return Status::InvalidArgument("resources.gpus_per_node: " + std::to_string(r.gpus_per_node) +
                                   " is out of range 0..1024");
  j.nodes = r.nodes;
  j.ntasks_per_node = r.tasks_per_node;
  j.cpus_per_task = r.cpus_per_task;
  j.gpus_per_node = r.gpus_per_node;
  HPCAI_ASSIGN_OR_RETURN(j.mem_mb, ParseMemMiB(r.mem));
  j.mem = r.mem;
  HPCAI_ASSIGN_OR_RETURN(j.time_minutes, ParseTimeMinutes(r.time));
  j.time = r.time;
  const char* kNameChars = "._-";
  const char* kNameDesc = "letters, digits, '.', '_', '-'";
  if (r.partition) {
    HPCAI_RETURN_IF_ERROR(CheckToken("resources.partition", *r.partition, kNameChars, kNameDesc));
    j.partition = *r.partition;
  }
  if (r.account) {
    HPCAI_RETURN_IF_ERROR(CheckToken("resources.account", *r.account, kNameChars, kNameDesc));
    j.account = *r.account;
  }
  if (r.qos) {
    HPCAI_RETURN_IF_ERROR(CheckToken("resources.qos", *r.qos, kNameChars, kNameDesc));
    j.qos = *r.qos;
  }
  if (r.constraint) {
    HPCAI_RETURN_IF_ERROR(CheckToken("resources.constraint", *r.constraint, "._-&|,:*!()[]",
                                     "letters, digits and the Slurm feature operators . _ - & | , : * ! ( ) [ ]",
                                     512));
    j.constraint = *r.constraint;
  }
  j.exclusive = r.exclusive;

  const PreemptionSpec& p = spec.preemption;
  j.signal_number = SignalNumber(p.signal);
  if (j.signal_number == 0)
    return Status::InvalidArgument("preemption.signal: '" + Printable(p.signal) +
                                   "' is not one of USR1, USR2, TERM, INT, HUP");
  j.signal = p.signal;
  if (p.lead_seconds < 0 || p.lead_seconds > 65535)
    return Status::InvalidArgument("preemption.lead_seconds: " + std::to_string(p.lead_seconds) +
                                   " is out of range 0..65535");
  j.lead_seconds = p.lead_seconds;
  j.requeue = p.requeue;
  if (p.max_restarts < 0 || p.max_restarts > 1000)
    return Status::InvalidArgument("preemption.max_restarts: " + std::to_string(p.max_restarts) +
                                   " is out of range 0..1000");

  if (spec.launcher != "srun" && spec.launcher != "mpirun")
    return Status::InvalidArgument("launcher: '" + Printable(spec.launcher) + "' is not one of srun, mpirun");

  HPCAI_RETURN_IF_ERROR(CheckToken("run id", in.id, "._-", kNameDesc, 200));
  HPCAI_RETURN_IF_ERROR(CheckSbatchPath("runs_root (run directory)", in.job_dir));
  for (size_t i = 0; i < in.task_run_dirs.size(); ++i)
    HPCAI_RETURN_IF_ERROR(CheckSbatchPath("sweep task " + std::to_string(i) + " run directory",
                                          in.task_run_dirs[i]));
  j.work_dir = in.job_dir;
  bool array = !in.task_run_dirs.empty();
  std::string pattern = array ? "%A_%a" : "%j";
  j.output = in.job_dir + "/logs/slurm-" + pattern + ".out";
  j.error = in.job_dir + "/logs/slurm-" + pattern + ".err";
  if (array) {
    if (in.array_parallelism < 0)
      return Status::InvalidArgument("sweep.parallelism: " + std::to_string(in.array_parallelism) +
                                     " must be >= 0 (0 = unlimited)");
    j.array = "0-" + std::to_string(in.task_run_dirs.size() - 1);
    if (in.array_parallelism > 0) j.array += "%" + std::to_string(in.array_parallelism);
  }

  // Shell-side values: quoted, so only NUL (impossible in a bash word) and
  // the shape of env names are checked.
  const EnvironmentSpec& e = spec.environment;
  for (size_t i = 0; i < e.modules.size(); ++i) {
    std::string key = "environment.modules[" + std::to_string(i) + "]";
    if (e.modules[i].empty()) return Status::InvalidArgument(key + ": must not be empty");
    HPCAI_RETURN_IF_ERROR(CheckNoNul(key, e.modules[i]));
  }
  for (const auto& [k, v] : e.env) {
    HPCAI_RETURN_IF_ERROR(CheckToken("environment.env key", k, "_",
                                     "letters, digits and '_', not starting with a digit", 256));
    if (k[0] >= '0' && k[0] <= '9')
      return Status::InvalidArgument("environment.env: '" + k + "' is not a valid variable name (starts with a digit)");
    if (k.rfind("HPCAI_", 0) == 0)
      return Status::InvalidArgument("environment.env: '" + k +
                                     "' uses the HPCAI_ prefix, which is reserved for hpcai's own variables");
    HPCAI_RETURN_IF_ERROR(CheckNoNul("environment.env." + k, v));
  }
  for (size_t i = 0; i < e.setup.size(); ++i)
    HPCAI_RETURN_IF_ERROR(CheckNoNul("environment.setup[" + std::to_string(i) + "]", e.setup[i]));
  if (in.train_binary.empty() || in.train_binary[0] != '/')
    return Status::InvalidArgument("train_binary: '" + Printable(in.train_binary) + "' must be an absolute path");
  HPCAI_RETURN_IF_ERROR(CheckNoNul("train_binary", in.train_binary));
  return j;
}

Result<std::string> RenderJobScript(const ScriptInput& in) {
  HPCAI_ASSIGN_OR_RETURN(JobRequest j, MakeJobRequest(in));
  const ResolvedSpec& spec = in.spec;
  const bool array = !in.task_run_dirs.empty();
  std::ostringstream o;
  auto sb = [&](const std::string& opt, const std::string& why) {
    o << Pad("#SBATCH " + opt, 48) << "# " << why << "\n";
  };

  o << "#!/bin/bash\n";
  o << "# job.sbatch of hpcai " << (array ? "sweep " : "run ") << in.id << "\n";
  o << "# Rendered by `hpcai submit` from the resolved spec (spec hash " << in.spec_hash << ").\n";
  o << "# It is the exact script given to Slurm; `hpcai resume` submits it again.\n";
  o << "# Every spec value below is validated or single-quoted, except the\n";
  o << "# environment.setup lines, which are the user's own shell, copied as written.\n";
  o << "#\n";
  sb("--job-name=" + j.job_name, "name");
  sb("--nodes=" + std::to_string(j.nodes), "resources.nodes");
  sb("--ntasks-per-node=" + std::to_string(j.ntasks_per_node), "resources.tasks_per_node (ranks per node)");
  sb("--cpus-per-task=" + std::to_string(j.cpus_per_task), "resources.cpus_per_task (threads per rank)");
  if (j.gpus_per_node > 0) sb("--gpus-per-node=" + std::to_string(j.gpus_per_node), "resources.gpus_per_node");
  sb("--mem=" + j.mem, "resources.mem (per node)");
  sb("--time=" + j.time, "resources.time");
  if (!j.partition.empty()) sb("--partition=" + j.partition, "resources.partition");
  if (!j.account.empty()) sb("--account=" + j.account, "resources.account");
  if (!j.qos.empty()) sb("--qos=" + j.qos, "resources.qos");
  if (!j.constraint.empty()) sb("--constraint=" + j.constraint, "resources.constraint");
  if (j.exclusive) sb("--exclusive", "resources.exclusive");
  if (j.requeue) sb("--requeue", "preemption.requeue: Slurm may requeue this job");
  else sb("--no-requeue", "preemption.requeue is false");
  sb("--signal=B:" + j.signal + "@" + std::to_string(j.lead_seconds),
     "preemption.signal/lead_seconds: to this script, which forwards it");
  sb("--open-mode=append", "logs of all restarts are kept");
  sb("--chdir=" + j.work_dir, array ? "the sweep directory" : "the run directory");
  sb("--output=" + j.output, "Slurm's own messages; the job writes logs/slurm-<job>-<restart>.out");
  sb("--error=" + j.error, "Slurm's own messages; the job writes logs/slurm-<job>-<restart>.err");
  if (array) sb("--array=" + j.array, "sweep: one task per grid point (%P = sweep.parallelism)");

  o << "\n";
  o << "# ---- run directory, job id, restart count ------------------------------------\n";
  if (array) {
    o << "# Each array task picks its own run directory; the script never evaluates spec values.\n";
    o << "hpcai_task=\"${SLURM_ARRAY_TASK_ID:-${HPCAI_ARRAY_TASK_ID:-}}\"\n";
    o << "case \"$hpcai_task\" in\n";
    for (size_t i = 0; i < in.task_run_dirs.size(); ++i)
      o << "  " << i << ") HPCAI_RUN_DIR=" << ShellQuote(in.task_run_dirs[i]) << " ;;\n";
    o << "  *) echo \"hpcai: array task '$hpcai_task' is not one of " << j.array.substr(0, j.array.find('%'))
      << " of sweep \"" << ShellQuote(in.id) << " >&2; exit 2 ;;\n";
    o << "esac\n";
  } else {
    o << "HPCAI_RUN_DIR=" << ShellQuote(in.job_dir) << "\n";
  }
  o << "if [ -n \"${SLURM_JOB_ID:-}\" ]; then\n";
  o << "  if [ -n \"${SLURM_ARRAY_JOB_ID:-}\" ]; then\n";
  o << "    HPCAI_JOB_ID=\"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"\n";
  o << "  else\n";
  o << "    HPCAI_JOB_ID=\"$SLURM_JOB_ID\"\n";
  o << "  fi\n";
  o << "else\n";
  o << "  HPCAI_JOB_ID=\"local-$$\"  # local backend: this script leads its own process group\n";
  o << "fi\n";
  o << "HPCAI_RESTART=\"${SLURM_RESTART_COUNT:-0}\"\n";
  o << "export HPCAI_RUN_DIR HPCAI_JOB_ID HPCAI_RESTART\n";
  o << "mkdir -p \"$HPCAI_RUN_DIR/logs\" || exit 1\n";
  o << "# %j in #SBATCH cannot carry the restart count: each restart writes its own files.\n";
  o << "exec >>\"$HPCAI_RUN_DIR/logs/slurm-$HPCAI_JOB_ID-$HPCAI_RESTART.out\" "
       "2>>\"$HPCAI_RUN_DIR/logs/slurm-$HPCAI_JOB_ID-$HPCAI_RESTART.err\"\n";
  o << "cd \"$HPCAI_RUN_DIR\" || exit 1\n";
  o << "echo \"hpcai: job $HPCAI_JOB_ID restart $HPCAI_RESTART on $(hostname) at $(date -u +%Y-%m-%dT%H:%M:%SZ)\"\n";
  o << "\n";
  o << "# Records how the step ended in logs/exit-<job>-<restart>.json (atomic rename;\n";
  o << "# read by `hpcai status`).  $2, if given, is what became of a requeue the\n";
  o << "# trainer asked for (\"failed (scontrol exit N)\"); the first call's time is kept.\n";
  o << "hpcai_now=\n";
  o << "hpcai_record() {\n";
  o << "  hpcai_f=\"$HPCAI_RUN_DIR/logs/exit-$HPCAI_JOB_ID-$HPCAI_RESTART.json\"\n";
  o << "  hpcai_now=\"${hpcai_now:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}\"\n";
  o << "  hpcai_more=\n";
  o << "  if [ -n \"${2:-}\" ]; then hpcai_more=\",\\\"requeue\\\":\\\"$2\\\"\"; fi\n";
  o << "  printf '{\"job_id\":\"%s\",\"restart\":%d,\"exit\":%d,\"finished_at\":\"%s\"%s}\\n' \\\n";
  o << "    \"$HPCAI_JOB_ID\" \"$HPCAI_RESTART\" \"$1\" \"$hpcai_now\" \"$hpcai_more\" >\"$hpcai_f.tmp.$$\"\n";
  o << "  sync \"$hpcai_f.tmp.$$\" 2>/dev/null\n";
  o << "  mv -f \"$hpcai_f.tmp.$$\" \"$hpcai_f\"\n";
  o << "}\n";
  o << "# Records the end and exits with the step's code.\n";
  o << "hpcai_finish() {\n";
  o << "  hpcai_record \"$1\"\n";
  o << "  echo \"hpcai: step ended with exit code $1 at $hpcai_now\"\n";
  o << "  exit \"$1\"\n";
  o << "}\n";

  const EnvironmentSpec& e = spec.environment;
  if (!e.modules.empty()) {
    o << "\n# ---- modules (environment.modules) --------------------------------------------\n";
    o << "if ! command -v module >/dev/null 2>&1 && [ -r /etc/profile.d/modules.sh ]; then\n";
    o << "  . /etc/profile.d/modules.sh\n";
    o << "fi\n";
    o << "hpcai_module() {\n";
    o << "  module load \"$1\" || { echo \"hpcai: 'module load $1' failed (environment.modules)\" >&2; hpcai_finish 1; }\n";
    o << "}\n";
    for (const auto& m : e.modules) o << "hpcai_module " << ShellQuote(m) << "\n";
  }
  if (!e.env.empty()) {
    o << "\n# ---- environment (environment.env) --------------------------------------------\n";
    for (const auto& [k, v] : e.env) o << "export " << k << "=" << ShellQuote(v) << "\n";
  }
  if (!e.setup.empty()) {
    o << "\n# ---- setup (environment.setup): the user's own shell lines, run as written -----\n";
    for (const auto& line : e.setup) o << line << "\n";
  }

  const int n = j.ntasks();
  const std::string bin = ShellQuote(in.train_binary);
  o << "\n# ---- launch: " << n << " rank(s) of hpcai-train in the background --------------------\n";
  o << "# The preemption signal (Slurm sends it to this script only, --signal=B:) and\n";
  o << "# TERM are forwarded to the job step; `wait` is resumed after each trap.\n";
  o << "# A signal that comes before hpcai-train has installed its handlers (rank 0\n";
  o << "# then writes logs/ready-<job>-<restart>) would kill the launcher or a rank:\n";
  o << "# it is held until the marker appears (at most 20 s, for train_binary\n";
  o << "# overrides that never write it) or the step ends.\n";
  o << "hpcai_step=\n";
  o << "hpcai_pending=\n";
  o << "hpcai_interrupted=0\n";
  o << "hpcai_ready=\"$HPCAI_RUN_DIR/logs/ready-$HPCAI_JOB_ID-$HPCAI_RESTART\"\n";
  o << "hpcai_deliver() {\n";
  o << "  if [ -f \"$hpcai_ready\" ]; then kill -s \"$1\" \"$hpcai_step\" 2>/dev/null; return; fi\n";
  o << "  echo \"hpcai: the step has not installed its signal handlers yet; SIG$1 follows when it has\"\n";
  o << "  ( hpcai_i=0\n";
  o << "    while [ ! -f \"$hpcai_ready\" ] && [ \"$hpcai_i\" -lt 100 ] && kill -0 \"$hpcai_step\" 2>/dev/null; do\n";
  o << "      sleep 0.2; hpcai_i=$((hpcai_i + 1))\n";
  o << "    done\n";
  o << "    kill -s \"$1\" \"$hpcai_step\" 2>/dev/null ) &\n";
  o << "}\n";
  o << "hpcai_forward() {\n";
  o << "  hpcai_interrupted=1\n";
  o << "  echo \"hpcai: got SIG$1 at $(date -u +%Y-%m-%dT%H:%M:%SZ); forwarding it to the job step\"\n";
  o << "  if [ -n \"$hpcai_step\" ]; then hpcai_deliver \"$1\"; else hpcai_pending=\"$1\"; fi\n";
  o << "}\n";
  o << "trap 'hpcai_forward " << j.signal << "' " << j.signal << "\n";
  if (j.signal != "TERM") o << "trap 'hpcai_forward TERM' TERM\n";
  // Open MPI refuses to start as root unless told; a job that runs as root
  // (single-machine clusters, containers) has already been given root by
  // Slurm or the user, so the launcher is allowed to proceed.
  o << "if [ \"$(id -u)\" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi\n";
  o << "if [ -n \"${SLURM_JOB_ID:-}\" ]; then\n";
  if (spec.launcher == "srun") {
    o << "  srun --kill-on-bad-exit=1 --ntasks=" << n << " --ntasks-per-node=" << j.ntasks_per_node << " "
      << bin << " --run-dir \"$HPCAI_RUN_DIR\" &\n";
  } else {
    o << "  mpirun -np " << n << " --bind-to none " << bin << " --run-dir \"$HPCAI_RUN_DIR\" &\n";
  }
  o << "else\n";
  o << "  # local backend (no Slurm): all ranks on this machine\n";
  o << "  mpirun -np " << n << " --oversubscribe --bind-to none " << bin << " --run-dir \"$HPCAI_RUN_DIR\" &\n";
  o << "fi\n";
  o << "hpcai_step=$!\n";
  o << "if [ -n \"$hpcai_pending\" ]; then hpcai_deliver \"$hpcai_pending\"; fi\n";
  o << "hpcai_rc=\n";
  o << "while :; do\n";
  o << "  hpcai_interrupted=0\n";
  o << "  wait \"$hpcai_step\" 2>/dev/null\n";
  o << "  hpcai_w=$?\n";
  o << "  # >128 after a trap: wait was interrupted, the step may still run: wait again.\n";
  o << "  if [ \"$hpcai_interrupted\" = 1 ] && [ \"$hpcai_w\" -gt 128 ]; then hpcai_rc=$hpcai_w; continue; fi\n";
  o << "  # 127 after an interrupted wait: the step's status was already collected.\n";
  o << "  if [ \"$hpcai_w\" = 127 ] && [ -n \"$hpcai_rc\" ]; then break; fi\n";
  o << "  hpcai_rc=$hpcai_w\n";
  o << "  break\n";
  o << "done\n";
  o << "# A step stopped by a signal after its preemption checkpoint was durable (rank 0\n";
  o << "# leaves this marker; srun --kill-on-bad-exit or Slurm's kill can stop the other\n";
  o << "# ranks as they exit) ended checkpointed.\n";
  o << "if [ \"$hpcai_rc\" != 0 ] && [ \"$hpcai_rc\" != 75 ] &&\n";
  o << "   [ -f \"$HPCAI_RUN_DIR/logs/checkpointed-$HPCAI_JOB_ID-$HPCAI_RESTART.json\" ]; then\n";
  o << "  echo \"hpcai: step ended with $hpcai_rc after its preemption checkpoint; recorded as 75\"\n";
  o << "  hpcai_rc=75\n";
  o << "fi\n";
  if (!j.requeue) {
    o << "hpcai_finish \"$hpcai_rc\"\n";
    return o.str();
  }
  std::string ignore = j.signal == "TERM" ? "TERM" : j.signal + " TERM";
  o << "hpcai_record \"$hpcai_rc\"\n";
  o << "echo \"hpcai: step ended with exit code $hpcai_rc at $hpcai_now\"\n";
  const std::string head = "# ---- requeue (preemption.requeue, max_restarts " +
                           std::to_string(spec.preemption.max_restarts) + ") ";
  o << "\n" << head << std::string(head.size() < 80 ? 80 - head.size() : 3, '-') << "\n";
  o << "# Done here, after the step exited, never by the ranks: Slurm stops a job as soon as\n";
  o << "# it is requeued, which would kill a running step before its last lines were logged.\n";
  o << "# hpcai-train rank 0 asks for it (it checked max_restarts) by writing\n";
  o << "# logs/requeue-<job>-<restart>.json after its checkpoint was durable, then exits 75.\n";
  o << "# The requeue is the last action: Slurm then sends TERM (ignored from here on, also\n";
  o << "# by scontrol) and KILL after KillWait; only the log line follows.\n";
  o << "if [ \"$hpcai_rc\" = 75 ] && [ -n \"${SLURM_JOB_ID:-}\" ] &&\n";
  o << "   [ -f \"$HPCAI_RUN_DIR/logs/requeue-$HPCAI_JOB_ID-$HPCAI_RESTART.json\" ]; then\n";
  o << "  case \"$HPCAI_RESTART\" in ''|*[!0-9]*) hpcai_next='?' ;; *) hpcai_next=$((10#$HPCAI_RESTART + 1)) ;; esac\n";
  o << "  trap '' " << ignore << "\n";
  o << "  if hpcai_out=\"$(scontrol requeue \"$SLURM_JOB_ID\" 2>&1)\"; then\n";
  o << "    echo \"hpcai: requeued job $HPCAI_JOB_ID (restart $hpcai_next of at most "
    << spec.preemption.max_restarts << ")\"\n";
  o << "  else\n";
  o << "    hpcai_w=$?\n";
  o << "    echo \"hpcai: requeue of job $HPCAI_JOB_ID failed (scontrol exit $hpcai_w): $hpcai_out\"\n";
  o << "    echo \"hpcai: the checkpoint is kept; continue with \\`hpcai resume $HPCAI_RUN_DIR\\`\"\n";
  o << "    hpcai_record \"$hpcai_rc\" \"failed (scontrol exit $hpcai_w)\"\n";
  o << "  fi\n";
  o << "fi\n";
  o << "exit \"$hpcai_rc\"\n";
  return o.str();
}

Status CheckSweepUniform(const std::vector<ResolvedSpec>& tasks) {
  if (tasks.size() < 2) return Status::OK();
  const ResolvedSpec& a = tasks[0];
  auto differ = [&](size_t i, const std::string& key) {
    return Status::InvalidArgument(
        "sweep: task " + std::to_string(i) + " changes '" + key +
        "', but all tasks of a sweep run as one Slurm job array with one job script; "
        "sweep over training/model/optimizer keys, or submit separate specs for different " + key);
  };
  for (size_t i = 1; i < tasks.size(); ++i) {
    const ResolvedSpec& b = tasks[i];
    const ResourcesSpec &ra = a.resources, &rb = b.resources;
    if (ra.nodes != rb.nodes || ra.tasks_per_node != rb.tasks_per_node || ra.cpus_per_task != rb.cpus_per_task ||
        ra.gpus_per_node != rb.gpus_per_node || ra.mem != rb.mem || ra.time != rb.time ||
        ra.partition != rb.partition || ra.account != rb.account || ra.qos != rb.qos ||
        ra.constraint != rb.constraint || ra.exclusive != rb.exclusive)
      return differ(i, "resources");
    if (a.environment.modules != b.environment.modules || a.environment.env != b.environment.env ||
        a.environment.setup != b.environment.setup)
      return differ(i, "environment");
    if (a.preemption.signal != b.preemption.signal || a.preemption.lead_seconds != b.preemption.lead_seconds ||
        a.preemption.requeue != b.preemption.requeue || a.preemption.max_restarts != b.preemption.max_restarts)
      return differ(i, "preemption");
    if (a.launcher != b.launcher) return differ(i, "launcher");
    if (a.train_binary != b.train_binary) return differ(i, "train_binary");
    if (a.backend != b.backend) return differ(i, "backend");
    if (a.runs_root != b.runs_root) return differ(i, "runs_root");
  }
  return Status::OK();
}

Result<std::string> ResolveTrainBinary(const ResolvedSpec& spec, bool must_exist) {
  std::string path, source;
  if (!spec.train_binary.empty()) {
    path = spec.train_binary;
    source = "spec key train_binary";
    if (path[0] != '/' && !spec.base_dir.empty()) path = fs::Join(spec.base_dir, path);
  } else if (const char* env = std::getenv("HPCAI_TRAIN_BINARY"); env && *env) {
    path = env;
    source = "$HPCAI_TRAIN_BINARY";
  } else {
    std::string self = fs::SelfExe();
    if (self.empty())
      return Status::NotFound("cannot locate hpcai-train: /proc/self/exe is unreadable; set train_binary in the "
                              "spec or $HPCAI_TRAIN_BINARY");
    path = fs::Join(fs::Dirname(self), "hpcai-train");
    source = "the hpcai-train installed beside hpcai";
  }
  path = fs::Absolute(path);
  if (must_exist && ::access(path.c_str(), X_OK) != 0) {
    return Status::NotFound("train binary '" + path + "' (" + source +
                            ") is not an executable file; build it (cmake --build build --target hpcai-train), "
                            "or point train_binary / $HPCAI_TRAIN_BINARY at it");
  }
  return path;
}

}  // namespace hpcai::slurm
