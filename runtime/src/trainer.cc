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
#include "hpcai/io/reader.h"
#include "hpcai/io/rundir.h"
#include "hpcai/runtime/metrics.h"
#include "hpcai/runtime/model.h"
#include "hpcai/runtime/optimizer.h"
#include "hpcai/runtime/signals.h"

namespace hpcai::runtime {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Slots of the control tensor reduced together with the gradients.
enum ControlSlot { kLossSum = 0, kSamples, kDataError, kStop, kControlSize };

}  // namespace

namespace {

class Trainer {
 public:
  Trainer(const ResolvedSpec& spec, const TrainOptions& options, Communicator& comm)
      : spec_(spec), options_(options), comm_(comm), paths_{options.run_dir} {}

  Status Setup();
  Result<TrainSummary> Run();
  void MarkFailed(const Status& st);

 private:
  Status Eval(int64_t step, int64_t epoch);
  void Log(int64_t step, int64_t epoch, double lr, double grad_norm);
  void WriteHeartbeat(const std::string& phase, int64_t step, int64_t epoch);
  void Append(const Json& line);
  void Warn(const std::string& what);
  Status NonFinite(int64_t step, double loss, bool local_loss_finite, const io::Batch* batch);

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
  std::vector<Param*> params_;
  std::vector<float> control_;
  Rng dropout_rng_;

  int64_t steps_per_epoch_ = 0, total_steps_ = 0;
  int64_t eval_every_ = 0;
  bool eval_per_epoch_ = false;

  // Logging window (since the last log line) and run totals.
  struct Window {
    int64_t steps = 0, loss_steps = 0;  // loss_steps: steps not skipped as non-finite
    double loss = 0, samples = 0, wall = 0, data = 0, compute = 0, comm = 0;
  } window_;
  double total_samples_ = 0, total_wall_ = 0, total_data_ = 0;
  int64_t skipped_ = 0;
  double last_loss_ = -1, last_lr_ = 0;
  double last_val_loss_ = -1, last_val_acc_ = -1;
  int64_t last_eval_step_ = -1;
  bool warned_io_ = false;
  int64_t step_ = 0, epoch_ = 0;  // steps done; epochs done (the current one is epoch_ + 1)
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

  auto model = Model::Create(spec_.model, info.sample_shape, info.num_classes, spec_.training.seed);
  if (!model.ok()) return model.status().WithContext("model");
  model_ = std::move(model).value();
  model_->SetThreads(env_.threads);
  model_->Reserve((spec_.training.global_batch + comm_.size() - 1) / comm_.size());
  params_ = model_->params();
  auto opt = Optimizer::Create(spec_.optimizer, params_);
  if (!opt.ok()) return opt.status().WithContext("optimizer");
  optimizer_ = std::move(opt).value();

  // The control tensor goes first in forward order, so it lands in the last
  // bucket; its pseudo-layer (past the last real one) never fires, so that
  // bucket starts in Wait(), after the loss of this step is known.
  control_.assign(kControlSize, 0.f);
  std::vector<GradTensor> tensors;
  GradTensor ctl;
  ctl.name = "control";
  ctl.layer = model_->num_layers();
  ctl.data = control_.data();
  ctl.size = kControlSize;
  tensors.push_back(ctl);
  for (GradTensor& t : GradTensorsOf(params_)) tensors.push_back(std::move(t));
  auto sync = comm_.CreateGradientSync(std::move(tensors), GradientSyncOptions{});
  if (!sync.ok()) return sync.status();
  sync_ = std::move(sync).value();

  dropout_rng_.Seed(MixSeed(spec_.training.seed, 0x64726f70 /* "drop" */, static_cast<uint64_t>(comm_.rank())));
  if (is_root_) HPCAI_RETURN_IF_ERROR(fs::MakeDirs(paths_.root));
  return Status::OK();
}

void Trainer::Warn(const std::string& what) {
  if (warned_io_) return;
  warned_io_ = true;  // once: a full disk must not flood the log
  std::fprintf(stderr, "hpcai-train: warning: %s (training continues; further warnings suppressed)\n",
               what.c_str());
}

void Trainer::Append(const Json& line) {
  if (!is_root_) return;
  Status st = fs::AppendLine(paths_.metrics(), line.dump());
  if (!st.ok()) Warn("cannot append to " + paths_.metrics() + ": " + st.ToString());
}

void Trainer::WriteHeartbeat(const std::string& phase, int64_t step, int64_t epoch) {
  if (!is_root_) return;
  io::Heartbeat hb;
  hb.step = step;
  hb.total_steps = total_steps_;
  hb.epoch = epoch;
  hb.epochs = spec_.training.epochs;
  hb.loss = last_loss_;
  hb.lr = last_lr_;
  hb.samples_per_sec = total_wall_ > 0 ? total_samples_ / total_wall_ : 0;
  hb.eta_seconds = hb.samples_per_sec > 0 && phase != "done"
                       ? (total_steps_ - step) * (total_wall_ / std::max<int64_t>(1, step))
                       : (phase == "done" ? 0 : -1);
  hb.val_accuracy = last_val_acc_;
  hb.phase = phase;
  hb.job_id = env_.job_id;
  hb.restart = env_.restart;
  hb.world_size = comm_.size();
  hb.updated_at = UnixNow();
  Status st = io::WriteHeartbeat(paths_, hb);
  if (!st.ok()) Warn("cannot write " + paths_.heartbeat() + ": " + st.ToString());
}

void Trainer::MarkFailed(const Status& st) {
  if (paths_.root.empty() || !is_root_) return;
  WriteHeartbeat("failed", step_, epoch_ + 1);
  Json j = Json::MakeObject();
  j.set("type", "error");
  j.set("code", CodeName(st.code()));
  j.set("message", st.message());
  j.set("time_ms", static_cast<int64_t>(UnixNow() * 1000.0));
  Append(j);
}

void Trainer::Log(int64_t step, int64_t epoch, double lr, double grad_norm) {
  Window& w = window_;
  if (w.steps == 0) return;
  StepMetrics m;
  m.step = step;
  m.total_steps = total_steps_;
  m.epoch = epoch;
  m.epochs = spec_.training.epochs;
  m.loss = w.loss_steps > 0 ? w.loss / w.loss_steps : std::nan("");
  m.lr = lr;
  m.grad_norm = grad_norm;
  m.samples_per_sec = w.wall > 0 ? w.samples / w.wall : 0;
  m.data_s = w.data / w.steps;
  m.compute_s = w.compute / w.steps;
  m.comm_s = w.comm / w.steps;
  m.skipped = skipped_;
  last_loss_ = m.loss;
  if (is_root_) {
    Append(StepMetricsJson(m, UnixNow()));
    WriteHeartbeat("train", step, epoch);
    if (options_.progress) {
      const double eta = (total_steps_ - step) * (w.wall / w.steps);
      std::printf("%s\n", ProgressLine(m, eta).c_str());
      std::fflush(stdout);
    }
  }
  w = Window{};
}

Status Trainer::Eval(int64_t step, int64_t epoch) {
  if (!val_) return Status::OK();
  const double t0 = Now();
  if (is_root_) WriteHeartbeat("eval", step, epoch);
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
  m.step = step;
  m.epoch = epoch;
  m.samples = static_cast<int64_t>(sums[2]);
  m.val_loss = sums[2] > 0 ? sums[0] / sums[2] : 0;
  m.val_acc = sums[2] > 0 ? sums[1] / sums[2] : 0;
  m.eval_s = Now() - t0;
  last_val_loss_ = m.val_loss;
  last_val_acc_ = m.val_acc;
  last_eval_step_ = step;
  if (is_root_) {
    Append(EvalMetricsJson(m, UnixNow()));
    WriteHeartbeat("train", step, epoch);
    if (options_.progress) {
      std::printf("%s\n", EvalLine(m).c_str());
      std::fflush(stdout);
    }
  }
  return Status::OK();
}

// The same Status on every rank.  A rank whose own loss was non-finite saw
// the problem in its forward pass (its layer outputs show where); the lowest
// such rank's diagnosis wins.  Otherwise the problem arose in backward or in
// the reduced gradients, which every rank holds identically.  Collective.
Status Trainer::NonFinite(int64_t step, double loss, bool local_loss_finite, const io::Batch* batch) {
  std::string what = std::isfinite(loss) ? "loss " + std::to_string(loss) + " is finite but the gradient norm is not"
                                         : "loss is " + std::string(std::isnan(loss) ? "nan" : "inf");
  const std::string hint =
      " (hint: check the data for NaN/Inf, lower optimizer.lr, set optimizer.grad_clip, or set "
      "training.skip_nonfinite: true to skip such steps)";
  // Bad input data is the most common cause and the most useful thing to
  // name; only this rank holds its slice of the batch.
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
    origin = Status::Numerical(
        "step " + std::to_string(step) + ": " + what + "; the input holds NaN/Inf: sample " +
        std::to_string(batch->local_offset + bad_sample) + " of global batch " +
        std::to_string(batch->step_in_epoch) + " of epoch " + std::to_string(batch->epoch + 1) + " (data.train " +
        spec_.data.train + ")" + hint);
  } else if (!local_loss_finite) {
    const std::string diag = model_->DiagnoseNonFinite();
    origin = Status::Numerical("step " + std::to_string(step) + ": " + what + "; first non-finite value: " +
                               (diag.empty() ? std::string("not found") : diag) + hint);
  }
  const std::string diag = model_->DiagnoseNonFinite();
  what += "; first non-finite value: " + (diag.empty() ? std::string("not found") : diag);
  Status agreed = AgreeStatus(comm_, origin);
  if (!agreed.ok()) return agreed;
  return Status::Numerical("step " + std::to_string(step) + ": " + what + hint);
}

Result<TrainSummary> Trainer::Run() {
  const double run_t0 = Now();
  // Same initial parameters everywhere, whatever each rank computed.
  for (Param* p : params_) HPCAI_RETURN_IF_ERROR(comm_.Broadcast(p->value.data(), p->size(), 0));

  if (is_root_) {
    if (options_.progress) {
      std::printf("hpcai-train: %s | %d rank%s x %d thread%s (%s) | %lld samples, %lld steps/epoch, %lld steps\n",
                  model_->Describe().c_str(), comm_.size(), comm_.size() == 1 ? "" : "s", env_.threads,
                  env_.threads == 1 ? "" : "s", env_.threads_source.c_str(),
                  static_cast<long long>(train_->info().num_samples), static_cast<long long>(steps_per_epoch_),
                  static_cast<long long>(total_steps_));
      std::fflush(stdout);
    }
    WriteHeartbeat("starting", 0, 1);
  }

  TrainSummary summary;
  summary.total_steps = total_steps_;
  summary.model = model_->Describe();
  const int64_t log_every = std::max(1, spec_.training.log_every);
  int64_t& step = step_;
  int64_t& epoch = epoch_;
  double last_norm = 0;
  io::Batch batch;
  auto hook = [this](int layer) { sync_->OnLayerReady(layer); };

  while (step < total_steps_ && epoch < spec_.training.epochs) {
    train_->Seek(epoch, 0);
    int64_t in_epoch = 0;
    for (; in_epoch < steps_per_epoch_ && step < total_steps_; ++in_epoch) {
      const double t0 = Now();
      Status local;
      auto more = train_->Next(&batch);
      if (!more.ok()) {
        local = more.status().WithContext("data.train");
      } else if (!*more) {
        local = Status::Corrupt("data.train: reader ended after " + std::to_string(in_epoch) + " of " +
                                std::to_string(steps_per_epoch_) + " batches of epoch " + std::to_string(epoch + 1));
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
      control_[kStop] = StopSignalReceived() != 0 ? 1.f : 0.f;
      Status ws = sync_->Wait();
      const double t3 = Now();
      if (!ws.ok()) return AgreeStatus(comm_, ws);
      if (control_[kDataError] > 0) return AgreeStatus(comm_, local);

      // Identical on every rank from here: same reduced grads and control.
      const double loss = static_cast<double>(control_[kLossSum]) / static_cast<double>(global_n);
      const double lr = LearningRate(spec_.optimizer, spec_.schedule, step, total_steps_);
      // Step() leaves everything untouched when the gradient norm is not
      // finite; a non-finite loss never reaches it.
      const double norm = std::isfinite(loss) ? optimizer_->Step(lr) : std::nan("");
      if (!std::isfinite(norm)) {
        Status bad = NonFinite(step + 1, loss, std::isfinite(loss_sum), have ? &batch : nullptr);
        if (!bad.ok() && !spec_.training.skip_nonfinite) return bad;
        ++skipped_;
        if (is_root_) std::fprintf(stderr, "hpcai-train: warning: skipping %s\n", bad.message().c_str());
      } else {
        last_norm = norm;
        window_.loss += loss;
        window_.loss_steps++;
      }
      const double t4 = Now();
      ++step;
      last_lr_ = lr;

      GradientSyncStats ss = sync_->TakeStats();
      const double comm_s = ss.hook_seconds + (t3 - t2);
      window_.steps++;
      window_.samples += static_cast<double>(global_n);
      window_.wall += t4 - t0;
      window_.data += t1 - t0;
      window_.comm += comm_s;
      window_.compute += (t4 - t0) - (t1 - t0) - comm_s;
      total_samples_ += static_cast<double>(global_n);
      total_wall_ += t4 - t0;
      total_data_ += t1 - t0;

      const bool stop = control_[kStop] > 0;
      if (step % log_every == 0 || step == total_steps_ || stop) Log(step, epoch + 1, lr, last_norm);
      if (!eval_per_epoch_ && eval_every_ > 0 && step % eval_every_ == 0) {
        HPCAI_RETURN_IF_ERROR(Eval(step, epoch + 1));
      }
      if (stop) {
        // Phase 3 (checkpoint + requeue) hooks in here; for now stop cleanly.
        // The signal number is this rank's; a rank that got none reports -1.
        summary.stop_signal = StopSignalReceived() != 0 ? StopSignalReceived() : -1;
        break;
      }
    }
    if (summary.stop_signal != 0) break;
    if (in_epoch == steps_per_epoch_) {
      ++epoch;
      summary.epochs_completed = epoch;
      if (eval_per_epoch_) HPCAI_RETURN_IF_ERROR(Eval(step, epoch));
    }
  }
  if (val_ && last_eval_step_ != step && summary.stop_signal == 0) {
    HPCAI_RETURN_IF_ERROR(Eval(step, std::max<int64_t>(1, std::min<int64_t>(epoch + 1, spec_.training.epochs))));
  }

  summary.steps = step;
  summary.skipped_steps = skipped_;
  summary.train_loss = last_loss_;
  summary.val_loss = last_val_loss_;
  summary.val_accuracy = last_val_acc_;
  summary.samples_per_sec = total_wall_ > 0 ? total_samples_ / total_wall_ : 0;
  summary.data_fraction = total_wall_ > 0 ? total_data_ / total_wall_ : 0;
  summary.seconds = Now() - run_t0;
  if (options_.return_params) {
    for (Param* p : params_) summary.final_params.insert(summary.final_params.end(), p->value.begin(), p->value.end());
  }
  if (is_root_) WriteHeartbeat(summary.stop_signal != 0 ? "preempted" : "done", step, std::max<int64_t>(1, epoch));
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
