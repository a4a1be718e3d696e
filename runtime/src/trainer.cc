// The training loop (contract in trainer.h, user-facing description in
// docs/runtime.md).
#include "hpcai/runtime/trainer.h"

#include <cblas.h>  // openblas_set_num_threads

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "hpcai/base/fs.h"
#include "hpcai/base/rng.h"
#include "hpcai/io/checkpoint.h"
#include "hpcai/io/reader.h"
#include "hpcai/io/rundir.h"
#include "hpcai/runtime/metrics.h"
#include "hpcai/runtime/model.h"
#include "hpcai/runtime/optimizer.h"
#include "hpcai/runtime/signals.h"
#include "hpcai/runtime/train_state.h"

namespace hpcai::runtime {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Slots of the control tensor reduced together with the gradients: every
// rank learns the global loss and every rank's flags from the same
// collective that averages the gradients, so agreeing on a data error, a
// stop signal or a time-based checkpoint costs no extra round trip.
enum ControlSlot { kLossSum = 0, kSamples, kDataError, kStop, kCheckpointDue, kControlSize };

// Checkpoint tensor names: "params/<param>" and "optim/<state>".
std::string ParamTensor(const Param& p) { return "params/" + p.name; }
std::string OptimTensor(const OptimizerState& s) { return "optim/" + s.name; }

class Trainer {
 public:
  Trainer(const ResolvedSpec& spec, const TrainOptions& options, Communicator& comm)
      : spec_(spec), options_(options), comm_(comm), paths_{options.run_dir} {}

  Status Setup();
  Result<TrainSummary> Run();
  void MarkFailed(const Status& st);

 private:
  Status Restore(bool* resumed);
  Status SaveCheckpoint(const char* why, bool wait);
  Status Eval();
  void Log(double lr);
  void WriteHeartbeat(const std::string& phase);
  void Append(const Json& line);
  void Warn(const std::string& what);
  void Note(const std::string& what);
  Status NonFinite(double loss, bool local_loss_finite, const io::Batch* batch);
  int64_t DisplayEpoch() const {
    return std::max<int64_t>(1, std::min<int64_t>(st_.epoch + (st_.cursor > 0 ? 1 : 0), spec_.training.epochs));
  }

  const ResolvedSpec& spec_;
  TrainOptions options_;
  Communicator& comm_;
  io::RunPaths paths_;
  bool is_root_ = false;
  RankEnvironment env_;

  std::unique_ptr<io::ShardReader> train_, val_;
  std::unique_ptr<Model> model_;
  std::unique_ptr<Optimizer> optimizer_;
  std::unique_ptr<GradientSync> sync_;
  std::unique_ptr<io::AsyncCheckpointWriter> async_writer_;  // rank 0, checkpoint.async
  std::vector<Param*> params_;
  std::vector<float> control_;
  Rng dropout_rng_;

  int64_t steps_per_epoch_ = 0, total_steps_ = 0;
  int64_t eval_every_ = 0;
  bool eval_per_epoch_ = false;
  bool device_ = false;  // the model's params live on a GPU
  std::string compat_key_;

  TrainState st_;  // what a checkpoint restores
  // Wall-clock accounting of the open logging window (not restored).
  struct WindowTimes {
    int64_t steps = 0;
    double samples = 0, wall = 0, data = 0, compute = 0, comm = 0;
  } times_;
  double total_samples_ = 0, total_wall_ = 0, total_data_ = 0;
  double last_lr_ = 0;
  double last_ckpt_time_ = 0;
  int64_t last_ckpt_step_ = -1;
  bool warned_io_ = false;
};

Status Trainer::Setup() {
  is_root_ = comm_.rank() == 0;
  env_ = ResolveRankEnvironment(spec_, comm_.local_rank(), options_.threads,
                                [](const char* n) { return std::getenv(n); });
  openblas_set_num_threads(env_.threads);

  bool per_epoch = false;
  eval_every_ = ParseEvalEvery(spec_.training.eval_every, &per_epoch);
  eval_per_epoch_ = per_epoch;
  if (eval_every_ < 0) {
    return Status::SpecError("training.eval_every: expected \"epoch\" or a step count >= 0, got \"" +
                             spec_.training.eval_every + "\"");
  }

  io::ReaderOptions ro;
  ro.x_name = spec_.data.x;
  ro.y_name = spec_.data.y;
  ro.global_batch = spec_.training.global_batch;
  ro.rank = comm_.rank();
  ro.world_size = comm_.size();
  ro.seed = spec_.training.seed;
  ro.shuffle = spec_.data.shuffle;
  ro.drop_last = spec_.data.drop_last;
  ro.prefetch = spec_.data.prefetch;
  ro.memory_budget_mb = spec_.data.memory_budget_mb;
  auto train = io::ShardReader::Open(spec_.data.train, ro);
  if (!train.ok()) return train.status().WithContext("data.train");
  train_ = std::move(train).value();
  if (spec_.data.val) {
    io::ReaderOptions vo = ro;
    vo.shuffle = false;
    vo.drop_last = false;
    auto val = io::ShardReader::Open(*spec_.data.val, vo);
    if (!val.ok()) return val.status().WithContext("data.val");
    val_ = std::move(val).value();
    if (val_->info().sample_shape != train_->info().sample_shape) {
      return Status::InvalidArgument("data.val samples do not match data.train: shape " +
                                     std::to_string(val_->info().feature_dim()) + " vs " +
                                     std::to_string(train_->info().feature_dim()) + " values per sample");
    }
  }
  const io::DatasetInfo& info = train_->info();
  steps_per_epoch_ = train_->steps_per_epoch();
  if (steps_per_epoch_ <= 0) {
    return Status::InvalidArgument("data.train (" + spec_.data.train + ") yields no batch of " +
                                   std::to_string(spec_.training.global_batch) + " samples (" +
                                   std::to_string(info.num_samples) + " samples, drop_last " +
                                   (spec_.data.drop_last ? "true" : "false") + ")");
  }
  total_steps_ = steps_per_epoch_ * spec_.training.epochs;
  std::optional<int64_t> max_steps = options_.max_steps ? options_.max_steps : spec_.training.max_steps;
  if (max_steps) total_steps_ = std::min(total_steps_, std::max<int64_t>(0, *max_steps));

  ModelOptions mo;
  mo.backend = spec_.resources.gpus_per_node > 0 ? "cuda" : "cpu";
  mo.allow_tf32 = spec_.training.precision == "tf32";
  auto model = Model::Create(spec_.model, info.sample_shape, info.num_classes, spec_.training.seed, mo);
  if (!model.ok()) return model.status().WithContext("model");
  model_ = std::move(model).value();
  model_->SetThreads(env_.threads);
  model_->Reserve((spec_.training.global_batch + comm_.size() - 1) / comm_.size());
  params_ = model_->params();
  device_ = !params_.empty() && params_[0]->device_grad != nullptr;
  auto opt = Optimizer::Create(spec_.optimizer, params_, model_->backend());
  if (!opt.ok()) return opt.status().WithContext("optimizer");
  optimizer_ = std::move(opt).value();

  // CPU: the control tensor goes first in forward order, so it lands in the
  // last bucket; its pseudo-layer (past the last real one) never fires, so
  // that bucket starts in Wait(), after the loss of this step is known.
  // Device models reduce device gradients (NCCL) and the control values in
  // one small host allreduce after Wait() instead.
  control_.assign(kControlSize, 0.f);
  std::vector<GradTensor> tensors;
  if (device_) {
    for (Param* p : params_) tensors.push_back(GradTensor{p->name, p->layer, p->device_grad, p->size()});
  } else {
    GradTensor ctl;
    ctl.name = "control";
    ctl.layer = model_->num_layers();
    ctl.data = control_.data();
    ctl.size = kControlSize;
    tensors.push_back(ctl);
    for (GradTensor& t : GradTensorsOf(params_)) tensors.push_back(std::move(t));
  }
  GradientSyncOptions so;
  so.cuda_stream = model_->device_stream();
  // HPCAI_GRAD_SYNC=mpi: reduce with MPI even when all ranks share a node
  // (A/B measurements; docs/runtime.md).  auto/shm/unset: the default.
  if (const char* how = std::getenv("HPCAI_GRAD_SYNC"); how && *how) {
    const std::string v = how;
    if (v == "mpi") {
      so.shared_memory = false;
    } else if (v != "auto" && v != "shm") {
      return Status::InvalidArgument("HPCAI_GRAD_SYNC='" + v + "': expected auto, shm or mpi");
    }
  }
  auto sync = comm_.CreateGradientSync(std::move(tensors), so);
  if (!sync.ok()) return sync.status();
  sync_ = std::move(sync).value();

  dropout_rng_.Seed(MixSeed(spec_.training.seed, 0x64726f70 /* "drop" */, static_cast<uint64_t>(comm_.rank())));
  compat_key_ = CheckpointCompatKey(spec_);
  if (is_root_) {
    HPCAI_RETURN_IF_ERROR(fs::MakeDirs(paths_.root));
    if (spec_.checkpoint.async) {
      async_writer_ = std::make_unique<io::AsyncCheckpointWriter>(paths_.checkpoints_dir(), spec_.checkpoint.keep_last);
    }
  }
  return Status::OK();
}

void Trainer::Warn(const std::string& what) {
  if (warned_io_) return;
  warned_io_ = true;  // once: a full disk must not flood the log
  std::fprintf(stderr, "hpcai-train: warning: %s (training continues; further warnings suppressed)\n",
               what.c_str());
}

void Trainer::Note(const std::string& what) {
  if (!is_root_) return;
  std::printf("hpcai-train: %s\n", what.c_str());
  std::fflush(stdout);
}

void Trainer::Append(const Json& line) {
  if (!is_root_) return;
  Status st = fs::AppendLine(paths_.metrics(), line.dump());
  if (!st.ok()) Warn("cannot append to " + paths_.metrics() + ": " + st.ToString());
}

void Trainer::WriteHeartbeat(const std::string& phase) {
  if (!is_root_) return;
  io::Heartbeat hb;
  hb.step = st_.step;
  hb.total_steps = total_steps_;
  hb.epoch = DisplayEpoch();
  hb.epochs = spec_.training.epochs;
  hb.loss = st_.last_loss;
  hb.lr = last_lr_;
  hb.samples_per_sec = total_wall_ > 0 ? total_samples_ / total_wall_ : 0;
  if (phase == "done") {
    hb.eta_seconds = 0;
  } else if (total_samples_ > 0) {
    hb.eta_seconds = (total_steps_ - st_.step) * (total_wall_ / (total_samples_ / spec_.training.global_batch));
  }
  hb.val_accuracy = st_.last_val_acc;
  hb.phase = phase;
  hb.job_id = env_.job_id;
  hb.restart = env_.restart;
  hb.world_size = comm_.size();
  hb.updated_at = UnixNow();
  Status s = io::WriteHeartbeat(paths_, hb);
  if (!s.ok()) Warn("cannot write " + paths_.heartbeat() + ": " + s.ToString());
}

void Trainer::MarkFailed(const Status& st) {
  if (paths_.root.empty() || !is_root_) return;
  WriteHeartbeat("failed");
  Json j = Json::MakeObject();
  j.set("type", "error");
  j.set("step", st_.step);
  j.set("code", CodeName(st.code()));
  j.set("message", st.message());
  j.set("time_ms", static_cast<int64_t>(UnixNow() * 1000.0));
  Append(j);
}

void Trainer::Log(double lr) {
  if (st_.window_steps == 0) return;
  StepMetrics m;
  m.step = st_.step;
  m.total_steps = total_steps_;
  m.epoch = DisplayEpoch();
  m.epochs = spec_.training.epochs;
  m.loss = st_.window_loss_steps > 0 ? st_.window_loss / st_.window_loss_steps : std::nan("");
  m.lr = lr;
  m.grad_norm = st_.last_norm;
  // Rates and per-step times over the steps THIS process timed (after a
  // resume the window may have begun before the checkpoint).
  const double timed = static_cast<double>(std::max<int64_t>(1, times_.steps));
  m.samples_per_sec = times_.wall > 0 ? times_.samples / times_.wall : 0;
  m.data_s = times_.data / timed;
  m.compute_s = times_.compute / timed;
  m.comm_s = times_.comm / timed;
  m.skipped = st_.skipped;
  st_.last_loss = m.loss;
  if (is_root_) {
    Append(StepMetricsJson(m, UnixNow()));
    WriteHeartbeat("train");
    if (options_.progress) {
      const double eta = (total_steps_ - st_.step) * (times_.wall / timed);
      std::printf("%s\n", ProgressLine(m, eta).c_str());
      std::fflush(stdout);
    }
  }
  st_.window_steps = st_.window_loss_steps = st_.window_samples = 0;
  st_.window_loss = 0;
  times_ = WindowTimes{};
}

Status Trainer::Eval() {
  if (!val_) return Status::OK();
  const double t0 = Now();
  if (is_root_) WriteHeartbeat("eval");
  val_->Seek(0, 0);
  io::Batch batch;
  double sums[3] = {0, 0, 0};  // loss, correct, samples
  Status local;
  for (int64_t b = 0; b < val_->steps_per_epoch(); ++b) {
    auto more = val_->Next(&batch);
    if (!more.ok()) {
      local = more.status().WithContext("data.val");
      break;
    }
    if (!*more) {
      local = Status::Corrupt("data.val: reader ended after " + std::to_string(b) + " of " +
                              std::to_string(val_->steps_per_epoch()) + " batches");
      break;
    }
    if (batch.local_size == 0) continue;
    double loss = 0;
    int64_t correct = 0;
    model_->Evaluate(batch.x.data(), batch.y.data(), batch.local_size, &loss, &correct);
    sums[0] += loss;
    sums[1] += static_cast<double>(correct);
    sums[2] += static_cast<double>(batch.local_size);
  }
  HPCAI_RETURN_IF_ERROR(AgreeStatus(comm_, local));
  HPCAI_RETURN_IF_ERROR(comm_.AllreduceSum(sums, 3));
  EvalMetrics m;
  m.step = st_.step;
  m.epoch = DisplayEpoch();
  m.samples = static_cast<int64_t>(sums[2]);
  m.val_loss = sums[2] > 0 ? sums[0] / sums[2] : 0;
  m.val_acc = sums[2] > 0 ? sums[1] / sums[2] : 0;
  m.eval_s = Now() - t0;
  st_.last_val_loss = m.val_loss;
  st_.last_val_acc = m.val_acc;
  st_.last_eval_step = st_.step;
  if (is_root_) {
    Append(EvalMetricsJson(m, UnixNow()));
    WriteHeartbeat("train");
    if (options_.progress) {
      std::printf("%s\n", EvalLine(m).c_str());
      std::fflush(stdout);
    }
  }
  return Status::OK();
}

// The same Status on every rank.  A rank whose own loss was non-finite saw
// the problem in its forward pass (its layer outputs show where), and a rank
// whose input slice holds NaN/Inf knows the sample; the lowest such rank's
// diagnosis wins.  Otherwise the problem arose in backward or in the reduced
// gradients, which every rank holds identically.  Collective.
Status Trainer::NonFinite(double loss, bool local_loss_finite, const io::Batch* batch) {
  const int64_t step = st_.step + 1;
  std::string what = std::isfinite(loss) ? "loss " + std::to_string(loss) + " is finite but the gradient norm is not"
                                         : "loss is " + std::string(std::isnan(loss) ? "nan" : "inf");
  const std::string hint =
      " (hint: check the data for NaN/Inf, lower optimizer.lr, set optimizer.grad_clip, or set "
      "training.skip_nonfinite: true to skip such steps)";
  int64_t bad_sample = -1;
  if (batch != nullptr && batch->local_size > 0) {
    const int64_t dim = static_cast<int64_t>(batch->x.size()) / batch->local_size;
    for (int64_t i = 0; i < static_cast<int64_t>(batch->x.size()); ++i) {
      if (!std::isfinite(batch->x[i])) {
        bad_sample = i / dim;
        break;
      }
    }
  }
  Status origin;
  if (bad_sample >= 0) {
    origin = Status::Numerical("step " + std::to_string(step) + ": " + what + "; the input holds NaN/Inf: sample " +
                               std::to_string(batch->local_offset + bad_sample) + " of global batch " +
                               std::to_string(batch->step_in_epoch) + " of epoch " +
                               std::to_string(batch->epoch + 1) + " (data.train " + spec_.data.train + ")" + hint);
  } else if (!local_loss_finite) {
    const std::string diag = model_->DiagnoseNonFinite();
    origin = Status::Numerical("step " + std::to_string(step) + ": " + what + "; first non-finite value: " +
                               (diag.empty() ? std::string("not found") : diag) + hint);
  }
  Status agreed = AgreeStatus(comm_, origin);
  if (!agreed.ok()) return agreed;
  const std::string diag = model_->DiagnoseNonFinite();
  return Status::Numerical("step " + std::to_string(step) + ": " + what + "; first non-finite value: " +
                           (diag.empty() ? std::string("not found") : diag) + hint);
}

// Looks for the newest valid checkpoint (rank 0 decides, every rank gets the
// same answer) and loads it: parameters, optimizer state, every rank's RNG,
// the data cursor and the logging window.  Collective.
Status Trainer::Restore(bool* resumed) {
  *resumed = false;
  // Rank 0: find and read (verifying CRCs).  The outcome travels as a code:
  // 0 = fresh start, 1 = resume, or an agreed error.
  std::unique_ptr<io::Checkpoint> ckpt;
  Status local;
  std::vector<std::string> warnings;
  if (is_root_ && fs::IsDir(paths_.checkpoints_dir())) {
    auto found = io::FindLatestValid(paths_.checkpoints_dir(), io::ReadCheckpointOptions{});
    if (found.ok()) {
      warnings = found->warnings;
      ckpt = std::make_unique<io::Checkpoint>(std::move(found->checkpoint));
      if (ckpt->meta.spec_hash != compat_key_) {
        local = Status::FailedPrecondition(
            ckpt->path + " was written for a different model or optimizer type than this spec's (compatibility key " +
            ckpt->meta.spec_hash.substr(0, 12) + " vs " + compat_key_.substr(0, 12) +
            "); refusing to resume (hint: use a new run directory, or move " + paths_.checkpoints_dir() + " away)");
      }
    } else if (found.status().code() != Code::kNotFound) {
      local = found.status();
    } else {
      // Candidates existed but none was valid: say so loudly, start fresh.
      if (fs::Exists(paths_.latest_pointer())) warnings.push_back(found.status().message());
    }
  }
  for (const std::string& w : warnings) std::fprintf(stderr, "hpcai-train: warning: %s\n", w.c_str());
  HPCAI_RETURN_IF_ERROR(AgreeStatus(comm_, local));

  std::string meta_text;
  TrainState state;
  if (is_root_ && ckpt) {
    Json m = Json::MakeObject();
    m.set("path", ckpt->path);
    m.set("optimizer_step", ckpt->meta.optimizer_step);
    m.set("world_size", ckpt->meta.world_size);
    m.set("state", ckpt->meta.extra.get("state"));
    meta_text = m.dump();
    // Check every tensor before anything is broadcast.
    auto state_r = TrainStateFromJson(ckpt->meta.extra.get("state"));
    if (!state_r.ok()) local = state_r.status().WithContext(ckpt->path);
    for (Param* p : params_) {
      const io::Tensor* t = ckpt->Find(ParamTensor(*p));
      if (local.ok() && (t == nullptr || static_cast<int64_t>(t->data.size()) != p->size())) {
        local = Status::Corrupt(ckpt->path + ": tensor '" + ParamTensor(*p) + "' is " +
                                (t ? "of size " + std::to_string(t->data.size()) : std::string("missing")) +
                                ", the model needs " + std::to_string(p->size()) + " values");
      }
    }
    for (const OptimizerState& s : optimizer_->state()) {
      const io::Tensor* t = ckpt->Find(OptimTensor(s));
      if (local.ok() && (t == nullptr || t->data.size() != s.data->size())) {
        local = Status::Corrupt(ckpt->path + ": optimizer tensor '" + OptimTensor(s) + "' is " +
                                (t ? "of size " + std::to_string(t->data.size()) : std::string("missing")) +
                                ", expected " + std::to_string(s.data->size()) + " values");
      }
    }
  }
  HPCAI_RETURN_IF_ERROR(AgreeStatus(comm_, local));
  HPCAI_RETURN_IF_ERROR(comm_.BroadcastString(&meta_text, 0));
  if (meta_text.empty()) return Status::OK();  // fresh start

  auto meta = Json::Parse(meta_text);
  if (!meta.ok()) return Status::Internal("checkpoint metadata broadcast: " + meta.status().message());
  auto state_r = TrainStateFromJson(meta->get("state"));
  if (!state_r.ok()) return state_r.status();
  state = *state_r;

  for (Param* p : params_) {
    if (is_root_) std::memcpy(p->value.data(), ckpt->Find(ParamTensor(*p))->data.data(), p->size() * sizeof(float));
    HPCAI_RETURN_IF_ERROR(comm_.Broadcast(p->value.data(), p->size(), 0));
  }
  for (const OptimizerState& s : optimizer_->state()) {
    if (is_root_) {
      const io::Tensor* t = ckpt->Find(OptimTensor(s));
      std::memcpy(s.data->data(), t->data.data(), t->data.size() * sizeof(float));
    }
    HPCAI_RETURN_IF_ERROR(comm_.Broadcast(s.data->data(), static_cast<int64_t>(s.data->size()), 0));
  }
  optimizer_->set_steps(meta->get("optimizer_step").as_int());
  model_->SyncToDevice();
  optimizer_->SyncStateToDevice();

  // RNG states: ranks that existed when it was written continue their stream.
  const int saved_world = static_cast<int>(meta->get("world_size").as_int(1));
  std::vector<uint64_t> rng(2 * static_cast<size_t>(saved_world), 0);
  if (is_root_) {
    for (int r = 0; r < saved_world && r < static_cast<int>(ckpt->rng.size()); ++r) {
      rng[2 * r] = ckpt->rng[r].s0;
      rng[2 * r + 1] = ckpt->rng[r].s1;
    }
  }
  HPCAI_RETURN_IF_ERROR(comm_.Broadcast(rng.data(), static_cast<int64_t>(rng.size()), 0));
  if (comm_.rank() < saved_world) dropout_rng_.SetState(rng[2 * comm_.rank()], rng[2 * comm_.rank() + 1]);
  if (saved_world != comm_.size()) {
    Note("warning: resuming a checkpoint written by " + std::to_string(saved_world) + " ranks with " +
         std::to_string(comm_.size()) + " ranks: the trajectory may differ from an uninterrupted run within "
         "float tolerance");
  }

  st_ = state;
  last_ckpt_step_ = st_.step;
  *resumed = true;

  if (is_root_) {
    // metrics.jsonl: drop train/eval lines past the checkpoint (written by an
    // attempt that died before its next checkpoint); this run writes them again.
    auto text = fs::ReadFile(paths_.metrics());
    if (text.ok()) {
      std::string kept;
      size_t pos = 0, dropped = 0;
      while (pos < text->size()) {
        size_t nl = text->find('\n', pos);
        if (nl == std::string::npos) nl = text->size();
        const std::string line = text->substr(pos, nl - pos);
        pos = nl + 1;
        auto j = Json::Parse(line);
        const std::string type = j.ok() ? j->get("type").as_string() : "";
        if (!j.ok() || ((type == "train" || type == "eval") && j->get("step").as_int() > st_.step)) {
          ++dropped;
          continue;
        }
        kept += line + "\n";
      }
      if (dropped > 0) {
        Status ws = fs::AtomicWriteFile(paths_.metrics(), kept);
        if (!ws.ok()) Warn("cannot rewrite " + paths_.metrics() + ": " + ws.ToString());
      }
    }
    Json j = Json::MakeObject();
    j.set("type", "resume");
    j.set("step", st_.step);
    j.set("checkpoint", meta->get("path").as_string());
    j.set("world_size", comm_.size());
    j.set("restart", env_.restart);
    j.set("time_ms", static_cast<int64_t>(UnixNow() * 1000.0));
    Append(j);
    Note("resuming from " + meta->get("path").as_string() + " (step " + std::to_string(st_.step) + ", epoch " +
         std::to_string(st_.epoch + 1) + ", batch " + std::to_string(st_.cursor) + ")");
  }
  return Status::OK();
}

// Writes a checkpoint of the current state.  Collective (RNG states are
// gathered); rank 0 writes.  `wait`: block until it is durable and agree on
// the outcome (end of training, preemption); otherwise a failure of an
// asynchronous write surfaces as a warning at the next checkpoint.
Status Trainer::SaveCheckpoint(const char* why, bool wait) {
  const double t0 = Now();
  model_->SyncToHost();
  optimizer_->SyncStateToHost();
  uint64_t mine[2] = {dropout_rng_.state0(), dropout_rng_.state1()};
  std::vector<uint64_t> all(is_root_ ? 2 * static_cast<size_t>(comm_.size()) : 0);
  HPCAI_RETURN_IF_ERROR(comm_.Gather(mine, 2, is_root_ ? all.data() : nullptr, 0));
  Status local;
  if (is_root_) {
    WriteHeartbeat("checkpoint");
    io::CheckpointData data;
    data.meta.step = st_.step;
    data.meta.epoch = st_.epoch;
    data.meta.data_cursor = st_.cursor;
    data.meta.world_size = comm_.size();
    data.meta.spec_hash = compat_key_;
    data.meta.optimizer_step = optimizer_->steps();
    Json sched = Json::MakeObject();
    sched.set("lr", last_lr_);
    sched.set("total_steps", total_steps_);
    sched.set("type", spec_.schedule.type);
    data.meta.schedule = sched;
    Json extra = Json::MakeObject();
    extra.set("state", TrainStateToJson(st_));
    extra.set("loss", st_.last_loss);
    extra.set("val_accuracy", st_.last_val_acc);
    extra.set("reason", why);
    data.meta.extra = extra;
    for (Param* p : params_) data.tensors.push_back(io::TensorRef{ParamTensor(*p), p->shape, p->value.data()});
    for (const OptimizerState& s : optimizer_->state()) {
      data.tensors.push_back(io::TensorRef{OptimTensor(s), {static_cast<int64_t>(s.data->size())}, s.data->data()});
    }
    for (int r = 0; r < comm_.size(); ++r) data.rng.push_back(io::RngState{all[2 * r], all[2 * r + 1]});
    if (async_writer_) {
      Status prev = async_writer_->Submit(data);
      if (!prev.ok()) Warn("an earlier checkpoint failed: " + prev.ToString());
      if (wait) local = async_writer_->Wait();
    } else {
      auto path = io::WriteCheckpoint(paths_.checkpoints_dir(), data, spec_.checkpoint.keep_last);
      if (!path.ok()) local = path.status();
    }
    if (!local.ok()) local = local.WithContext(std::string("writing the ") + why + " checkpoint");
  }
  last_ckpt_step_ = st_.step;
  last_ckpt_time_ = Now();
  if (wait) HPCAI_RETURN_IF_ERROR(AgreeStatus(comm_, local));
  if (!local.ok()) Warn(local.ToString());
  if (is_root_ && options_.progress) {
    std::printf("hpcai-train: checkpoint at step %lld (%s, %s, %.0f ms stall)\n", static_cast<long long>(st_.step),
                why, async_writer_ && !wait ? "async" : "written", (Now() - t0) * 1e3);
    std::fflush(stdout);
  }
  return Status::OK();
}

Result<TrainSummary> Trainer::Run() {
  const double run_t0 = Now();
  // Same initial parameters everywhere, whatever each rank computed.
  model_->SyncToHost();
  for (Param* p : params_) HPCAI_RETURN_IF_ERROR(comm_.Broadcast(p->value.data(), p->size(), 0));
  model_->SyncToDevice();
  if (is_root_ && options_.progress) {
    std::printf("hpcai-train: %s | %d rank%s x %d thread%s (%s)%s | %lld samples, %lld steps/epoch, %lld steps\n",
                model_->Describe().c_str(), comm_.size(), comm_.size() == 1 ? "" : "s", env_.threads,
                env_.threads == 1 ? "" : "s", env_.threads_source.c_str(),
                comm_.size() > 1 ? (std::string(", gradients via ") + sync_->method()).c_str() : "",
                static_cast<long long>(train_->info().num_samples), static_cast<long long>(steps_per_epoch_),
                static_cast<long long>(total_steps_));
    std::fflush(stdout);
  }
  bool resumed = false;
  HPCAI_RETURN_IF_ERROR(Restore(&resumed));
  WriteHeartbeat("starting");
  last_ckpt_time_ = Now();

  TrainSummary summary;
  summary.total_steps = total_steps_;
  summary.model = model_->Describe();
  summary.resumed_from_step = resumed ? st_.step : -1;
  const int64_t log_every = std::max(1, spec_.training.log_every);
  const int64_t every_steps = spec_.checkpoint.every_steps;
  const double every_seconds = spec_.checkpoint.every_minutes * 60.0;
  io::Batch batch;
  auto hook = [this](int layer) { sync_->OnLayerReady(layer); };
  bool stop = false;

  while (st_.step < total_steps_ && st_.epoch < spec_.training.epochs && !stop) {
    if (st_.cursor < steps_per_epoch_) train_->Seek(st_.epoch, st_.cursor);
    while (st_.cursor < steps_per_epoch_ && st_.step < total_steps_) {
      const double t0 = Now();
      Status local;
      auto more = train_->Next(&batch);
      if (!more.ok()) {
        local = more.status().WithContext("data.train");
      } else if (!*more) {
        local = Status::Corrupt("data.train: reader ended after " + std::to_string(st_.cursor) + " of " +
                                std::to_string(steps_per_epoch_) + " batches of epoch " +
                                std::to_string(st_.epoch + 1));
      }
      const bool have = local.ok();
      const int64_t n = have ? batch.local_size : 0;
      const int64_t global_n = have ? batch.global_size : spec_.training.global_batch;
      const double t1 = Now();
      // A rank without data still runs the (empty) pass so every rank issues
      // the same collectives; the flag below makes them all stop together.
      const double loss_sum = model_->ForwardBackward(have ? batch.x.data() : nullptr,
                                                      have ? batch.y.data() : nullptr, n,
                                                      std::max<int64_t>(global_n, 1), &dropout_rng_, hook);
      const double t2 = Now();
      control_[kLossSum] = static_cast<float>(loss_sum);
      control_[kSamples] = static_cast<float>(n);
      control_[kDataError] = have ? 0.f : 1.f;
      control_[kStop] = (StopSignalReceived() != 0 || st_.step + 1 == options_.stop_at_step) ? 1.f : 0.f;
      control_[kCheckpointDue] = (is_root_ && every_seconds > 0 && t2 - last_ckpt_time_ >= every_seconds) ? 1.f : 0.f;
      Status ws = sync_->Wait();
      if (ws.ok() && device_) {
        double c[kControlSize];
        for (int i = 0; i < kControlSize; ++i) c[i] = control_[i];
        ws = comm_.AllreduceSum(c, kControlSize);
        for (int i = 0; i < kControlSize; ++i) control_[i] = static_cast<float>(c[i]);
      }
      const double t3 = Now();
      if (!ws.ok()) return AgreeStatus(comm_, ws);
      if (control_[kDataError] > 0) return AgreeStatus(comm_, local);

      // Identical on every rank from here: same reduced grads and control.
      const double loss = static_cast<double>(control_[kLossSum]) / static_cast<double>(global_n);
      const double lr = LearningRate(spec_.optimizer, spec_.schedule, st_.step, total_steps_);
      // Step() leaves everything untouched when the gradient norm is not
      // finite; a non-finite loss never reaches it.
      const double norm = std::isfinite(loss) ? optimizer_->Step(lr) : std::nan("");
      if (!std::isfinite(norm)) {
        Status bad = NonFinite(loss, std::isfinite(loss_sum), have ? &batch : nullptr);
        if (!spec_.training.skip_nonfinite) return bad;
        ++st_.skipped;
        if (is_root_) std::fprintf(stderr, "hpcai-train: warning: skipping %s\n", bad.message().c_str());
      } else {
        st_.last_norm = norm;
        st_.window_loss += loss;
        st_.window_loss_steps++;
      }
      const double t4 = Now();
      ++st_.step;
      ++st_.cursor;
      last_lr_ = lr;

      GradientSyncStats ss = sync_->TakeStats();
      const double comm_s = ss.hook_seconds + (t3 - t2);
      st_.window_steps++;
      st_.window_samples += global_n;
      times_.steps++;
      times_.samples += static_cast<double>(global_n);
      times_.wall += t4 - t0;
      times_.data += t1 - t0;
      times_.comm += comm_s;
      times_.compute += (t4 - t0) - (t1 - t0) - comm_s;
      total_samples_ += static_cast<double>(global_n);
      total_wall_ += t4 - t0;
      total_data_ += t1 - t0;

      if (st_.step % log_every == 0 || st_.step == total_steps_) Log(lr);
      if (!eval_per_epoch_ && eval_every_ > 0 && st_.step % eval_every_ == 0) HPCAI_RETURN_IF_ERROR(Eval());
      stop = control_[kStop] > 0;
      if (stop) {
        // Preemption: the state after this step, durable before we leave.
        int64_t sig = StopSignalReceived();
        HPCAI_RETURN_IF_ERROR(comm_.AllreduceMax(&sig, 1));
        summary.stop_signal = sig > 0 ? static_cast<int>(sig) : -1;  // -1: TrainOptions::stop_at_step
        HPCAI_RETURN_IF_ERROR(SaveCheckpoint("preemption", /*wait=*/true));
        summary.checkpointed = true;
        break;
      }
      const bool due = (every_steps > 0 && st_.step % every_steps == 0) || control_[kCheckpointDue] > 0;
      if (due && st_.step < total_steps_) HPCAI_RETURN_IF_ERROR(SaveCheckpoint("periodic", /*wait=*/false));
    }
    if (stop) break;
    if (st_.cursor >= steps_per_epoch_) {
      ++st_.epoch;
      st_.cursor = 0;
      if (eval_per_epoch_) HPCAI_RETURN_IF_ERROR(Eval());
    }
  }
  if (!stop) {
    if (val_ && st_.last_eval_step != st_.step) HPCAI_RETURN_IF_ERROR(Eval());
    // The end of training is checkpointed when checkpoints are on, and also when
    // this run already has one (it resumed, or was preempted): LATEST must never
    // point at a state older than the finished run.
    const bool checkpoints_on =
        spec_.checkpoint.every_steps > 0 || spec_.checkpoint.every_minutes > 0 || last_ckpt_step_ >= 0;
    if (checkpoints_on && last_ckpt_step_ != st_.step) {
      HPCAI_RETURN_IF_ERROR(SaveCheckpoint("end", /*wait=*/true));
      summary.checkpointed = true;
    }
  }
  if (async_writer_) {
    Status w = async_writer_->Wait();
    if (!w.ok()) Warn("a checkpoint write failed: " + w.ToString());
  }

  summary.steps = st_.step;
  summary.epochs_completed = st_.epoch;
  summary.skipped_steps = st_.skipped;
  summary.train_loss = st_.last_loss;
  summary.val_loss = st_.last_val_loss;
  summary.val_accuracy = st_.last_val_acc;
  summary.samples_per_sec = total_wall_ > 0 ? total_samples_ / total_wall_ : 0;
  summary.data_fraction = total_wall_ > 0 ? total_data_ / total_wall_ : 0;
  summary.seconds = Now() - run_t0;
  if (options_.return_params) {
    model_->SyncToHost();
    for (Param* p : params_) summary.final_params.insert(summary.final_params.end(), p->value.begin(), p->value.end());
  }
  WriteHeartbeat(stop ? "preempted" : "done");
  return summary;
}

}  // namespace

Result<TrainSummary> Train(const ResolvedSpec& spec, const TrainOptions& options, Communicator& comm) {
  Trainer trainer(spec, options, comm);
  Status st = AgreeStatus(comm, trainer.Setup());
  if (!st.ok()) {
    trainer.MarkFailed(st);
    return st;
  }
  auto result = trainer.Run();
  if (!result.ok()) trainer.MarkFailed(result.status());
  return result;
}

}  // namespace hpcai::runtime
