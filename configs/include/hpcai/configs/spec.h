// The experiment spec: the schema as C++ types, and the functions that turn
// a user's experiment.yaml into a validated, fully-defaulted ResolvedSpec.
//
// Defaults below ARE the schema defaults; docs/spec.md and `hpcai spec
// --defaults` are generated from / tested against the same table.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai {

struct ResourcesSpec {
  int nodes = 1;
  int tasks_per_node = 2;
  int cpus_per_task = 1;
  int gpus_per_node = 0;
  std::string mem = "4G";          // Slurm --mem syntax: <int>[K|M|G|T]
  std::string time = "00:30:00";   // MM | MM:SS | HH:MM:SS | D-HH | D-HH:MM | D-HH:MM:SS
  std::optional<std::string> partition, account, qos, constraint;
  bool exclusive = false;

  int world_size() const { return nodes * tasks_per_node; }
};

struct EnvironmentSpec {
  std::vector<std::string> modules;                         // `module load X`
  std::vector<std::pair<std::string, std::string>> env;     // exported, in file order
  std::vector<std::string> setup;                           // user shell lines, verbatim
};

struct DataSpec {
  std::string train = "data/fmnist/train";  // dataset directory (absolute after resolve)
  std::optional<std::string> val = std::string("data/fmnist/test");
  std::string x = "x";
  std::string y = "y";
  bool shuffle = true;
  int prefetch = 2;
  bool drop_last = false;
  int64_t memory_budget_mb = 1024;  // per rank; above it the reader streams chunks
};

struct ConvLayerSpec {
  int filters = 32;
  int kernel = 3;
  int stride = 1;
  int padding = 1;
  int pool = 2;  // max-pool window (and stride) after the conv+activation; 1 = none
};

struct ModelSpec {
  std::string type = "mlp";                 // linear | mlp | cnn
  std::vector<int> hidden = {256, 128};     // dense widths (mlp; cnn: after the convs)
  std::string activation = "relu";          // relu | gelu | tanh
  double dropout = 0.0;
  std::vector<ConvLayerSpec> conv;          // cnn only; default 2 layers (32, 64)
  std::string init = "he";                  // he | xavier
};

struct OptimizerSpec {
  std::string type = "sgd";   // sgd | adam | adamw
  double lr = 0.05;
  double momentum = 0.9;      // sgd
  bool nesterov = false;      // sgd
  double weight_decay = 0.0;  // sgd/adam: L2 added to grad; adamw: decoupled
  std::optional<double> grad_clip;  // global-norm clip
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;  // adam/adamw
};

struct ScheduleSpec {
  std::string type = "cosine";  // constant | step | cosine
  int64_t warmup_steps = 100;   // linear warmup from 0 (applies to every type)
  double min_lr = 0.0;          // cosine floor
  int64_t step_size = 1000;     // step: decay every step_size steps
  double gamma = 0.1;           // step: multiply by gamma
};

struct TrainingSpec {
  int epochs = 10;
  std::optional<int64_t> max_steps;  // stops early when reached
  int64_t global_batch = 256;
  uint64_t seed = 1234;
  std::string precision = "fp32";    // fp32 | tf32 (tf32: CUDA only)
  // "epoch" or a positive step count as a string, e.g. "500".  Evaluation
  // runs only when data.val is set.
  std::string eval_every = "epoch";
  int log_every = 50;
  bool skip_nonfinite = false;
};

struct CheckpointSpec {
  int64_t every_steps = 500;    // 0 = off
  double every_minutes = 10;    // 0 = off
  int keep_last = 3;
  bool async = true;
};

struct PreemptionSpec {
  std::string signal = "USR1";  // USR1 | USR2 | TERM | INT | HUP
  int lead_seconds = 120;
  bool requeue = true;
  int max_restarts = 5;
};

// One sweep axis: a dotted key path and the YAML text of each value (in flow
// style, e.g. "0.1" or "[256, 128]").  Applied like --set overrides.
struct SweepAxis {
  std::string key;
  std::vector<std::string> values;
};
struct SweepSpec {
  std::vector<SweepAxis> axes;  // grid = cartesian product, first axis slowest
  int parallelism = 0;          // job array %P; 0 = unlimited
  bool empty() const { return axes.empty(); }
};

struct ResolvedSpec {
  std::string name = "experiment";  // [A-Za-z0-9._-]{1,64}, not starting with '.' or '-'
  std::string backend = "auto";     // auto | slurm | local
  std::string runs_root = "./runs"; // absolute after resolve
  ResourcesSpec resources;
  EnvironmentSpec environment;
  std::string launcher = "srun";    // srun | mpirun
  std::string train_binary;         // "" = the hpcai-train installed beside hpcai
  DataSpec data;
  ModelSpec model;
  OptimizerSpec optimizer;
  ScheduleSpec schedule;
  TrainingSpec training;
  CheckpointSpec checkpoint;
  PreemptionSpec preemption;
  SweepSpec sweep;

  // Filled by resolution, not by the user (not part of the canonical form).
  std::string source_path;  // absolute path of the YAML file it came from ("" if text)
  std::string base_dir;     // the working directory at load time; relative paths
                            // (runs_root, data.*, train_binary) were resolved against it
};

// One problem found in a spec.  All problems of a file are reported at once.
struct SpecDiagnostic {
  std::string file;
  int line = 0;     // 1-based; 0 = unknown
  int column = 0;   // 1-based; 0 = unknown
  std::string key_path;  // e.g. "resources.nodes"; "" for syntax errors
  std::string message;   // includes expected vs actual and "did you mean" hints
  std::string source_line;  // the offending line, for the caret display
  // "file:line:col: key.path: message\n  <line>\n  ^"
  std::string Format() const;
};

struct SpecLoadOptions {
  std::vector<std::string> overrides;  // "key.path=yaml-value", applied in order
  // ${VAR} lookup; nullptr = the process environment.
  const std::map<std::string, std::string>* env = nullptr;
  // Open data files when reachable (submit-time checks).  configs/ itself
  // never opens data (it stays free of HDF5); the CLI honours this flag.
  bool check_data = true;
  bool cuda_available = false;  // this build has a CUDA backend
};

// The outcome of loading: a spec, or every diagnostic found.
struct SpecLoadResult {
  std::optional<ResolvedSpec> spec;
  std::vector<SpecDiagnostic> diagnostics;
  bool ok() const { return spec.has_value() && diagnostics.empty(); }
  // All diagnostics formatted, one after another.
  std::string FormatAll() const;
};

// Parses, applies overrides and ${VAR} interpolation, fills defaults,
// resolves relative paths against the current working directory, validates
// (every sweep point too).  On success result.spec is set and diagnostics is
// empty; otherwise spec is empty and diagnostics holds every problem found,
// in file order (then --set order, then those without a location), at most
// 100.  Never throws, never aborts; bounded time and memory on any input:
// input over 256 KiB, nesting over 32 levels, more than 20,000 YAML values
// and YAML aliases are refused before they cost anything (docs/spec.md).
// Thread-safe (no shared mutable state); reads the process environment when
// options.env is null.  LoadSpecFile reads at most 256 KiB + 1 bytes of
// `path` (devices and FIFOs included) and records its absolute path in
// spec.source_path; LoadSpecText uses `display_name` in diagnostics.
SpecLoadResult LoadSpecFile(const std::string& path, const SpecLoadOptions& options);
SpecLoadResult LoadSpecText(const std::string& text, const std::string& display_name,
                            const SpecLoadOptions& options);

// The canonical YAML: every key, schema order, block style, deterministic
// (shortest round-trip floats; '$' doubled before '{' and '$' so re-loading
// does not interpolate again).  For a loaded spec s,
// LoadSpecText(CanonicalYaml(s)) yields a spec whose CanonicalYaml is identical.
// Excludes `sweep` when `include_sweep` is false (per-task specs of a sweep).
std::string CanonicalYaml(const ResolvedSpec& spec, bool include_sweep = true);
// sha256 hex of CanonicalYaml(spec): the experiment's identity.
std::string SpecHash(const ResolvedSpec& spec);

// Expands a sweep grid into one spec per point (sweep cleared in each),
// named "<name>-<index>" with index 0..N-1 (= SLURM_ARRAY_TASK_ID), first
// axis slowest.  A spec without a sweep yields itself.  SpecError if a point
// is invalid (cannot happen for a spec that LoadSpec* accepted).
Result<std::vector<ResolvedSpec>> ExpandSweep(const ResolvedSpec& spec);

// The part of a spec that decides whether a checkpoint can be loaded: the
// model (tensor names and shapes) and the optimizer type (its state tensors).
// sha256 hex.  Everything else (epochs, lr, batch, resources) may change
// between a checkpoint and a resume.
std::string CheckpointCompatKey(const ResolvedSpec& spec);


// Number of grid points of a sweep (1 without a sweep).
int64_t SweepPoints(const SweepSpec& sweep);

// Slurm time limit (resources.time) in seconds; nullopt if malformed.
std::optional<int64_t> SlurmTimeSeconds(const std::string& time);
// Slurm memory (resources.mem) in MiB, rounded up; nullopt if malformed.
std::optional<int64_t> SlurmMemMiB(const std::string& mem);

}  // namespace hpcai
