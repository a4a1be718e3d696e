#include "schema.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>

#include "text_util.h"

namespace hpcai::spec_internal {
namespace {

constexpr int64_t kI64Max = std::numeric_limits<int64_t>::max();
constexpr double kInf = std::numeric_limits<double>::infinity();

#define REF(member) [](ResolvedSpec& s) -> ValuePtr { return &s.member; }

Field F(std::string path, Kind kind, ValuePtr (*ref)(ResolvedSpec&), std::string doc) {
  Field f;
  f.path = std::move(path);
  f.kind = kind;
  f.ref = ref;
  f.doc = std::move(doc);
  return f;
}
Field I(std::string path, Kind kind, int64_t lo, int64_t hi, ValuePtr (*ref)(ResolvedSpec&),
        std::string doc) {
  Field f = F(std::move(path), kind, ref, std::move(doc));
  f.imin = lo;
  f.imax = hi;
  return f;
}
Field D(std::string path, Kind kind, double lo, bool lo_open, double hi, bool hi_open,
        ValuePtr (*ref)(ResolvedSpec&), std::string doc) {
  Field f = F(std::move(path), kind, ref, std::move(doc));
  f.dmin = lo;
  f.dmin_open = lo_open;
  f.dmax = hi;
  f.dmax_open = hi_open;
  return f;
}
Field E(std::string path, std::vector<std::string> choices, ValuePtr (*ref)(ResolvedSpec&),
        std::string doc) {
  Field f = F(std::move(path), Kind::kEnum, ref, std::move(doc));
  f.choices = std::move(choices);
  return f;
}

std::vector<Field> BuildFields() {
  using K = Kind;
  return {
      F("name", K::kName, REF(name),
        "experiment name: [A-Za-z0-9._-], 1-64 chars, not starting with '.' or '-'; used in run ids and Slurm job names"),
      E("backend", {"auto", "slurm", "local"}, REF(backend),
        "where jobs run: slurm, local (mpirun without Slurm), auto = slurm when Slurm is configured"),
      F("runs_root", K::kPath, REF(runs_root),
        "directory that holds run directories; relative = against the current directory at load time"),

      I("resources.nodes", K::kInt, 1, 100000, REF(resources.nodes), "nodes to allocate (sbatch --nodes)"),
      I("resources.tasks_per_node", K::kInt, 1, 4096, REF(resources.tasks_per_node),
        "MPI ranks per node (--ntasks-per-node; default = gpus_per_node when that is > 0); world size = nodes * tasks_per_node"),
      I("resources.cpus_per_task", K::kInt, 1, 4096, REF(resources.cpus_per_task),
        "CPU cores per rank (--cpus-per-task); also the BLAS thread count"),
      I("resources.gpus_per_node", K::kInt, 0, 64, REF(resources.gpus_per_node),
        "GPUs per node (--gpus-per-node); > 0 needs a build with -DHPCAI_WITH_CUDA=ON"),
      F("resources.mem", K::kMem, REF(resources.mem),
        "memory per node (--mem): <int>[K|M|G|T], no unit = M"),
      F("resources.time", K::kTime, REF(resources.time),
        "time limit (--time): MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS; quote it"),
      F("resources.partition", K::kSlurmName, REF(resources.partition),
        "Slurm partition (--partition); null = the cluster default"),
      F("resources.account", K::kSlurmName, REF(resources.account), "Slurm account (--account); null = none"),
      F("resources.qos", K::kSlurmName, REF(resources.qos), "Slurm QOS (--qos); null = none"),
      F("resources.constraint", K::kOptString, REF(resources.constraint),
        "node feature constraint (--constraint), passed verbatim; null = none"),
      F("resources.exclusive", K::kBool, REF(resources.exclusive), "whole nodes only (--exclusive)"),

      F("environment.modules", K::kModuleList, REF(environment.modules),
        "environment modules loaded before the run (`module load X`), in order"),
      F("environment.env", K::kEnvMap, REF(environment.env),
        "environment variables exported for every rank, in file order (NAME: value)"),
      F("environment.setup", K::kLines, REF(environment.setup),
        "shell lines run before the launch, verbatim (use $${VAR} for a literal ${VAR})"),

      E("launcher", {"srun", "mpirun"}, REF(launcher),
        "how ranks are started inside the allocation; the local backend needs mpirun"),
      F("train_binary", K::kBinary, REF(train_binary),
        "hpcai-train to run; \"\" = the one installed beside hpcai (or $HPCAI_TRAIN_BINARY); else a path, resolved like runs_root"),

      F("data.train", K::kPath, REF(data.train),
        "training dataset directory (HDF5 shards + manifest.json, see docs/data-format.md)"),
      F("data.val", K::kOptPath, REF(data.val), "validation dataset directory; null = no evaluation"),
      F("data.x", K::kString, REF(data.x), "name of the features dataset in each shard"),
      F("data.y", K::kString, REF(data.y), "name of the labels dataset in each shard"),
      F("data.shuffle", K::kBool, REF(data.shuffle), "reshuffle the training samples every epoch (seeded)"),
      I("data.prefetch", K::kInt, 0, 64, REF(data.prefetch), "batches read ahead per rank (0 = synchronous)"),
      F("data.drop_last", K::kBool, REF(data.drop_last), "drop the last incomplete global batch of an epoch"),
      I("data.memory_budget_mb", K::kInt64, 1, int64_t{1} << 40, REF(data.memory_budget_mb),
        "per-rank MiB for caching the data set; above it the reader streams chunks"),

      E("model.type", {"linear", "mlp", "cnn"}, REF(model.type),
        "linear (softmax regression), mlp (dense layers) or cnn (conv layers, then dense layers)"),
      I("model.hidden", K::kIntList, 1, 1 << 20, REF(model.hidden),
        "widths of the hidden dense layers; default [256, 128] for mlp, [128] for cnn, [] for linear"),
      E("model.activation", {"relu", "gelu", "tanh"}, REF(model.activation), "activation after every hidden layer"),
      D("model.dropout", K::kDouble, 0, false, 1, true, REF(model.dropout),
        "dropout probability after every hidden dense layer, in [0, 1)"),
      F("model.conv", K::kConvList, REF(model.conv),
        "cnn only: [{filters, kernel, stride, padding, pool}, ...]; default two layers, 32 and 64 filters"),
      E("model.init", {"he", "xavier"}, REF(model.init), "weight initialisation"),

      E("optimizer.type", {"sgd", "adam", "adamw"}, REF(optimizer.type), "optimizer"),
      D("optimizer.lr", K::kDouble, 0, true, kInf, true, REF(optimizer.lr), "peak learning rate"),
      D("optimizer.momentum", K::kDouble, 0, false, 1, true, REF(optimizer.momentum), "sgd momentum, in [0, 1)"),
      F("optimizer.nesterov", K::kBool, REF(optimizer.nesterov), "sgd: Nesterov momentum (needs momentum > 0)"),
      D("optimizer.weight_decay", K::kDouble, 0, false, kInf, true, REF(optimizer.weight_decay),
        "sgd/adam: L2 penalty added to the gradient; adamw: decoupled decay"),
      D("optimizer.grad_clip", K::kOptDouble, 0, true, kInf, true, REF(optimizer.grad_clip),
        "clip the global gradient norm to this value; null = no clipping"),
      D("optimizer.beta1", K::kDouble, 0, false, 1, true, REF(optimizer.beta1), "adam/adamw first-moment decay, in [0, 1)"),
      D("optimizer.beta2", K::kDouble, 0, false, 1, true, REF(optimizer.beta2), "adam/adamw second-moment decay, in [0, 1)"),
      D("optimizer.eps", K::kDouble, 0, true, 1, false, REF(optimizer.eps), "adam/adamw denominator epsilon, in (0, 1]"),

      E("schedule.type", {"constant", "step", "cosine"}, REF(schedule.type), "learning-rate schedule after warmup"),
      I("schedule.warmup_steps", K::kInt64, 0, int64_t{1} << 40, REF(schedule.warmup_steps),
        "linear warmup from 0 to lr over this many steps (every schedule type)"),
      D("schedule.min_lr", K::kDouble, 0, false, kInf, true, REF(schedule.min_lr), "cosine: final learning rate (<= lr)"),
      I("schedule.step_size", K::kInt64, 1, int64_t{1} << 40, REF(schedule.step_size), "step: multiply lr by gamma every step_size steps"),
      D("schedule.gamma", K::kDouble, 0, true, 1, false, REF(schedule.gamma), "step: decay factor, in (0, 1]"),

      I("training.epochs", K::kInt, 1, 1000000, REF(training.epochs), "passes over the training set"),
      I("training.max_steps", K::kOptInt64, 1, int64_t{1} << 50, REF(training.max_steps),
        "stop after this many optimizer steps if reached before the last epoch; null = no limit"),
      I("training.global_batch", K::kInt64, 1, int64_t{1} << 30, REF(training.global_batch),
        "samples per optimizer step over all ranks; must be divisible by the world size"),
      I("training.seed", K::kUint64, 0, 0, REF(training.seed),
        "seed for init, shuffling and dropout; same seed + world size = bitwise-identical run"),
      E("training.precision", {"fp32", "tf32"}, REF(training.precision), "math precision; tf32 needs GPUs"),
      F("training.eval_every", K::kEvalEvery, REF(training.eval_every),
        "evaluate on data.val: \"epoch\" (end of every epoch) or every N steps"),
      I("training.log_every", K::kInt, 1, 1000000000, REF(training.log_every), "steps between metrics.jsonl lines"),
      F("training.skip_nonfinite", K::kBool, REF(training.skip_nonfinite),
        "skip steps with a non-finite loss or gradient instead of failing (exit 4)"),

      I("checkpoint.every_steps", K::kInt64, 0, int64_t{1} << 50, REF(checkpoint.every_steps), "checkpoint every N steps; 0 = off (preemptions still checkpoint)"),
      D("checkpoint.every_minutes", K::kDouble, 0, false, 1e6, false, REF(checkpoint.every_minutes),
        "checkpoint every N minutes of wall time; 0 = off"),
      I("checkpoint.keep_last", K::kInt, 1, 1000, REF(checkpoint.keep_last), "checkpoints kept; older ones are deleted"),
      F("checkpoint.async", K::kBool, REF(checkpoint.async), "write checkpoints in the background"),

      E("preemption.signal", {"USR1", "USR2", "TERM", "INT", "HUP"}, REF(preemption.signal),
        "signal Slurm sends before the time limit (--signal=B:<sig>@<lead_seconds>)"),
      I("preemption.lead_seconds", K::kInt, 0, 1000000, REF(preemption.lead_seconds),
        "seconds before the time limit the signal arrives; must be below resources.time"),
      F("preemption.requeue", K::kBool, REF(preemption.requeue), "checkpoint and requeue on the signal (resume from it)"),
      I("preemption.max_restarts", K::kInt, 0, 1000, REF(preemption.max_restarts), "requeues allowed before giving up"),
  };
}

#undef REF

}  // namespace

std::string Field::section() const {
  auto dot = path.find('.');
  return dot == std::string::npos ? "" : path.substr(0, dot);
}
std::string Field::leaf() const {
  auto dot = path.find('.');
  return dot == std::string::npos ? path : path.substr(dot + 1);
}

namespace {
std::string FormatBound(double v) {
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}
}  // namespace

std::string Field::TypeDoc() const {
  switch (kind) {
    case Kind::kInt:
    case Kind::kInt64:
    case Kind::kOptInt64: {
      std::string s = "integer " + (imax >= (int64_t{1} << 30) ? ">= " + std::to_string(imin)
                                                                : std::to_string(imin) + ".." + std::to_string(imax));
      return kind == Kind::kOptInt64 ? s + " or null" : s;
    }
    case Kind::kUint64: return "integer 0..18446744073709551615";
    case Kind::kDouble:
    case Kind::kOptDouble: {
      std::string s = "number ";
      bool hi_inf = std::isinf(dmax);
      if (hi_inf) {
        s += dmin_open ? "> " : ">= ";
        s += FormatBound(dmin);
      } else {
        s += dmin_open ? "in (" : "in [";
        s += FormatBound(dmin);
        s += ", ";
        s += FormatBound(dmax);
        s += dmax_open ? ")" : "]";
      }
      return kind == Kind::kOptDouble ? s + " or null" : s;
    }
    case Kind::kBool: return "true | false";
    case Kind::kString: return "string";
    case Kind::kName: return "name";
    case Kind::kEnum: {
      std::string s;
      for (size_t i = 0; i < choices.size(); ++i) s += (i ? " | " : "") + choices[i];
      return s;
    }
    case Kind::kPath: return "path";
    case Kind::kOptPath: return "path or null";
    case Kind::kBinary: return "path or \"\"";
    case Kind::kTime: return "Slurm time";
    case Kind::kMem: return "Slurm memory";
    case Kind::kEvalEvery: return "\"epoch\" or integer >= 1";
    case Kind::kSlurmName: return "name or null";
    case Kind::kOptString: return "string or null";
    case Kind::kIntList: return "list of integers >= 1";
    case Kind::kModuleList: return "list of strings";
    case Kind::kLines: return "list of strings";
    case Kind::kEnvMap: return "mapping NAME: string";
    case Kind::kConvList: return "list of conv layers";
  }
  return "";
}

const std::vector<Field>& Fields() {
  static const std::vector<Field> kFields = BuildFields();
  return kFields;
}

const std::vector<Section>& Sections() {
  static const std::vector<Section> kSections = {
      {"resources", "what to ask Slurm for, per job"},
      {"environment", "the job's shell environment, before the launch"},
      {"data", "the data set: directories of HDF5 shards + manifest.json (docs/data-format.md)"},
      {"model", "the network"},
      {"optimizer", "the optimizer"},
      {"schedule", "the learning-rate schedule"},
      {"training", "the training loop"},
      {"checkpoint", "checkpoints (HDF5, atomic, in the run directory)"},
      {"preemption", "surviving time limits and preemption: signal, checkpoint, requeue, resume"},
      {"sweep", "optional grid: {key.path: [v1, v2, ...], ..., max_parallel: N} -> one Slurm job array"},
  };
  return kSections;
}

const Section* FindSection(std::string_view name) {
  for (const auto& s : Sections()) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

const Field* FindField(std::string_view path) {
  for (const auto& f : Fields()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

const std::vector<std::string>& AllFieldPaths() {
  static const std::vector<std::string> kPaths = [] {
    std::vector<std::string> v;
    for (const auto& f : Fields()) v.push_back(f.path);
    return v;
  }();
  return kPaths;
}

const std::vector<std::string>& TopLevelKeys() {
  static const std::vector<std::string> kKeys = [] {
    std::vector<std::string> v;
    for (const auto& f : Fields()) {
      std::string s = f.section();
      std::string k = s.empty() ? f.path : s;
      if (v.empty() || v.back() != k) v.push_back(k);
    }
    v.push_back("sweep");
    return v;
  }();
  return kKeys;
}

std::vector<std::string> SectionKeys(std::string_view section) {
  std::vector<std::string> v;
  for (const auto& f : Fields()) {
    if (f.section() == section) v.push_back(f.leaf());
  }
  return v;
}

const std::vector<std::string>& ConvKeys() {
  static const std::vector<std::string> kKeys = {"filters", "kernel", "stride", "padding", "pool"};
  return kKeys;
}

namespace {

// Names people bring from other tools, mapped to our keys.
const std::vector<std::pair<std::string, std::string>>& Synonyms() {
  static const std::vector<std::pair<std::string, std::string>> kSynonyms = {
      {"learning_rate", "optimizer.lr"},     {"learningrate", "optimizer.lr"},
      {"batch_size", "training.global_batch"}, {"batchsize", "training.global_batch"},
      {"batch", "training.global_batch"},    {"num_epochs", "training.epochs"},
      {"epoch", "training.epochs"},          {"steps", "training.max_steps"},
      {"num_nodes", "resources.nodes"},      {"ntasks_per_node", "resources.tasks_per_node"},
      {"ranks_per_node", "resources.tasks_per_node"}, {"gpus", "resources.gpus_per_node"},
      {"cpus", "resources.cpus_per_task"},   {"memory", "resources.mem"},
      {"time_limit", "resources.time"},      {"walltime", "resources.time"},
      {"wd", "optimizer.weight_decay"},      {"layers", "model.hidden"},
      {"hidden_sizes", "model.hidden"},      {"hidden_layers", "model.hidden"},
      {"optim", "optimizer"},                {"scheduler", "schedule"},
      {"lr_schedule", "schedule"},           {"env", "environment.env"},
      {"modules", "environment.modules"},    {"checkpointing", "checkpoint"},
      {"warmup", "schedule.warmup_steps"},   {"clip", "optimizer.grad_clip"},
  };
  return kSynonyms;
}

}  // namespace

std::string SuggestKey(const std::string& section, const std::string& key) {
  if (key.size() > 200) return "";
  const std::string path = section.empty() ? key : section + "." + key;
  // 1. A close spelling where it was written.
  std::vector<std::string> here = section.empty() ? TopLevelKeys() : SectionKeys(section);
  std::string m = ClosestMatch(key, here);
  if (!m.empty()) return section.empty() ? m : section + "." + m;
  // 2. A synonym, or 3. the same key in another section ("lr" at the top level).
  std::string lower;
  for (char c : key) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (const auto& [from, to] : Synonyms()) {
    if (lower == from) return to;
  }
  for (const auto& f : Fields()) {
    if (f.leaf() == key && f.section() != section) return f.path;
  }
  // 4. A close full path ("optimizer.lrr" written at the top level as a dotted key).
  m = ClosestMatch(path, AllFieldPaths());
  return m;
}

std::string SuggestDottedPath(const std::string& path) {
  auto dot = path.find('.');
  if (dot != std::string::npos && FindSection(path.substr(0, dot)) != nullptr) {
    return SuggestKey(path.substr(0, dot), path.substr(dot + 1));
  }
  std::string m = ClosestMatch(path, AllFieldPaths());
  return m.empty() ? SuggestKey("", path) : m;
}

bool IsSafeName(std::string_view s) {
  if (s.empty() || s.size() > 64 || s[0] == '.' || s[0] == '-') return false;
  for (char c : s) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {
// Parses a run of 1..9 digits into *out; false if not all digits.
bool Digits(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 9) return false;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}
std::vector<std::string_view> SplitColons(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t b = 0;
  while (true) {
    size_t c = s.find(':', b);
    parts.push_back(s.substr(b, c == std::string_view::npos ? std::string_view::npos : c - b));
    if (c == std::string_view::npos) break;
    b = c + 1;
  }
  return parts;
}
}  // namespace

std::optional<int64_t> ParseTimeSeconds(std::string_view s) {
  int64_t days = 0;
  bool has_days = false;
  auto dash = s.find('-');
  if (dash != std::string_view::npos) {
    if (!Digits(s.substr(0, dash), &days)) return std::nullopt;
    has_days = true;
    s = s.substr(dash + 1);
  }
  auto parts = SplitColons(s);
  std::vector<int64_t> v(parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!Digits(parts[i], &v[i])) return std::nullopt;
  }
  int64_t h = 0, m = 0, sec = 0;
  if (has_days) {
    // D-HH, D-HH:MM, D-HH:MM:SS
    if (v.size() > 3) return std::nullopt;
    h = v[0];
    if (v.size() > 1) m = v[1];
    if (v.size() > 2) sec = v[2];
    if (h > 23) return std::nullopt;
  } else if (v.size() == 1) {
    m = v[0];  // MM (may exceed 59, as Slurm allows)
  } else if (v.size() == 2) {
    m = v[0];  // MM:SS
    sec = v[1];
  } else if (v.size() == 3) {
    h = v[0];
    m = v[1];
    sec = v[2];
    if (m > 59) return std::nullopt;
  } else {
    return std::nullopt;
  }
  if (sec > 59) return std::nullopt;
  if (has_days && m > 59) return std::nullopt;
  int64_t total = ((days * 24 + h) * 60 + m) * 60 + sec;
  if (total <= 0) return std::nullopt;
  return total;
}

std::optional<int64_t> ParseMemMiB(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t mult_kib = 1024;  // default unit M
  char u = s.back();
  if (u == 'K' || u == 'M' || u == 'G' || u == 'T') {
    mult_kib = u == 'K' ? 1 : u == 'M' ? 1024 : u == 'G' ? 1024 * 1024 : int64_t{1024} * 1024 * 1024;
    s.remove_suffix(1);
  }
  if (s.empty() || s.size() > 15) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v <= 0 || v > kI64Max / mult_kib) return std::nullopt;
  int64_t kib = v * mult_kib;  // KiB -> MiB below, rounding up
  return (kib + 1023) / 1024;
}

}  // namespace hpcai::spec_internal

namespace hpcai {

std::optional<int64_t> SlurmTimeSeconds(const std::string& time) {
  return spec_internal::ParseTimeSeconds(time);
}
std::optional<int64_t> SlurmMemMiB(const std::string& mem) { return spec_internal::ParseMemMiB(mem); }

int64_t SweepPoints(const SweepSpec& sweep) {
  int64_t n = 1;
  for (const auto& a : sweep.axes) {
    n *= static_cast<int64_t>(a.values.size());
    if (n > (int64_t{1} << 40)) break;  // absurd grids never get past validation anyway
  }
  return n;
}

}  // namespace hpcai
