// SGD (momentum, Nesterov), Adam, AdamW; global-norm clipping; LR schedules.
// The per-element updates are math.h's (shared with the CUDA kernels); this
// file computes the per-step scalars and splits the parameters across the
// CPU pool's threads.
#include "hpcai/runtime/optimizer.h"

#include <cmath>

#include "hpcai/kernels/backend.h"
#include "hpcai/kernels/cpu.h"
#include "hpcai/kernels/math.h"
#include "hpcai/kernels/parallel.h"

namespace hpcai::runtime {
namespace {

constexpr double kPi = 3.14159265358979323846;

class OptimizerImpl final : public Optimizer {
 public:
  // device == nullptr: CPU (params' host vectors, CpuPool threads).  Else the
  // params' device storage and device state buffers, host vectors as mirrors.
  OptimizerImpl(const OptimizerSpec& spec, const std::vector<Param*>& params,
                kernels::Backend* device)
      : spec_(spec), params_(params), device_(device) {
    const bool adam = spec.type != "sgd";
    for (Param* p : params_) {
      if (adam) {
        m_.emplace_back(p->size(), 0.0f);
        v_.emplace_back(p->size(), 0.0f);
      } else {
        // Plain SGD (momentum 0) still runs through SgdUpdate, whose v then
        // just holds the step direction; it is not checkpoint state.
        v_.emplace_back(p->size(), 0.0f);
      }
    }
    if (device_ != nullptr) {
      for (size_t i = 0; i < params_.size(); ++i) {
        dev_m_.push_back(adam ? device_->AllocFloats(params_[i]->size()) : nullptr);
        dev_v_.push_back(device_->AllocFloats(params_[i]->size()));
      }
    }
  }
  ~OptimizerImpl() override {
    for (float* p : dev_m_) if (p != nullptr) device_->Free(p);
    for (float* p : dev_v_) if (p != nullptr) device_->Free(p);
  }
  bool allocated() const {
    for (size_t i = 0; i < dev_v_.size(); ++i) {
      if (dev_v_[i] == nullptr || (spec_.type != "sgd" && dev_m_[i] == nullptr)) return false;
    }
    return true;
  }
  void SyncStateToHost() override {
    if (device_ == nullptr) return;
    for (size_t i = 0; i < params_.size(); ++i) {
      if (dev_m_[i] != nullptr) device_->CopyOut(m_[i].data(), dev_m_[i], params_[i]->size());
      device_->CopyOut(v_[i].data(), dev_v_[i], params_[i]->size());
    }
  }
  void SyncStateToDevice() override {
    if (device_ == nullptr) return;
    for (size_t i = 0; i < params_.size(); ++i) {
      if (dev_m_[i] != nullptr) device_->CopyIn(dev_m_[i], m_[i].data(), params_[i]->size());
      device_->CopyIn(dev_v_[i], v_[i].data(), params_[i]->size());
    }
  }

  double Step(double lr) override;
  int64_t steps() const override { return steps_; }
  void set_steps(int64_t steps) override { steps_ = steps; }
  std::vector<OptimizerState> state() override {
    std::vector<OptimizerState> out;
    for (size_t i = 0; i < params_.size(); ++i) {
      const std::string& n = params_[i]->name;
      if (spec_.type == "sgd") {
        if (spec_.momentum != 0.0) out.push_back({n + "/momentum", &v_[i]});
      } else {
        out.push_back({n + "/adam_m", &m_[i]});
        out.push_back({n + "/adam_v", &v_[i]});
      }
    }
    return out;
  }

 private:

  OptimizerSpec spec_;
  std::vector<Param*> params_;
  kernels::Backend* device_ = nullptr;
  std::vector<std::vector<float>> m_, v_;
  std::vector<float*> dev_m_, dev_v_;
  std::vector<double> partial_;
  int64_t steps_ = 0;
};

double OptimizerImpl::Step(double lr) {
  const int64_t t_next = steps_ + 1;
  const float wd = static_cast<float>(spec_.weight_decay);
  const bool sgd = spec_.type == "sgd";
  const bool decoupled = spec_.type == "adamw";
  kernels::SgdParams sh;
  sh.lr = static_cast<float>(lr);
  sh.momentum = static_cast<float>(spec_.momentum);
  sh.nesterov = spec_.nesterov;
  // Adam / AdamW with PyTorch's bias correction for step t_next.
  const double t = static_cast<double>(t_next);
  const double bc1 = 1.0 - std::pow(spec_.beta1, t);
  const double bc2 = 1.0 - std::pow(spec_.beta2, t);
  kernels::AdamParams ah;
  ah.lr = static_cast<float>(lr);
  ah.beta1 = static_cast<float>(spec_.beta1);
  ah.beta2 = static_cast<float>(spec_.beta2);
  ah.eps = static_cast<float>(spec_.eps);
  ah.step_size = static_cast<float>(lr / bc1);
  ah.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
  auto clip_scale = [&](double norm) {
    return spec_.grad_clip.has_value() ? kernels::ClipScale(norm, *spec_.grad_clip) : 1.0f;
  };
  // Updates rows [b, e) of param i with its decay flags applied.
  auto update = [&](kernels::Backend* be, size_t i, float scale, int64_t b, int64_t e) {
    Param* p = params_[i];
    float* value = (device_ != nullptr ? p->device_value : p->value.data()) + b;
    const float* grad = (device_ != nullptr ? p->device_grad : p->grad.data()) + b;
    float* v = (device_ != nullptr ? dev_v_[i] : v_[i].data()) + b;
    if (sgd) {
      kernels::SgdParams h = sh;
      h.grad_scale = scale;
      h.weight_decay = p->decay ? wd : 0.0f;
      be->SgdStep(e - b, h, grad, value, v);
    } else {
      float* m = (device_ != nullptr ? dev_m_[i] : m_[i].data()) + b;
      kernels::AdamParams h = ah;
      h.grad_scale = scale;
      h.l2 = (!decoupled && p->decay) ? wd : 0.0f;
      h.decoupled = (decoupled && p->decay) ? wd : 0.0f;
      be->AdamStep(e - b, h, grad, value, m, v);
    }
  };

  double norm = 0.0;
  if (device_ != nullptr) {
    double total = 0.0;
    for (Param* p : params_) total += device_->SumSquares(p->size(), p->device_grad);
    norm = std::sqrt(total);
    if (!std::isfinite(norm)) return norm;  // contract: nothing is updated
    const float scale = clip_scale(norm);
    for (size_t i = 0; i < params_.size(); ++i) update(device_, i, scale, 0, params_[i]->size());
    steps_ = t_next;
    return norm;
  }

  // CPU: one pool region.  Each task sums the squares of its slice of every
  // tensor; after a barrier every task adds the partials in task order (so
  // all see the same norm and take the same decision) and updates its slices.
  kernels::ThreadPool& pool = kernels::CpuPool();
  kernels::Backend& cpu = kernels::CpuBackend();
  const int tasks = pool.threads();
  partial_.assign(tasks, 0.0);
  auto task = [&](int tt) {
    double sq = 0.0;
    for (Param* p : params_) {
      int64_t b, e;
      kernels::ShardRange(p->size(), tasks, tt, &b, &e);
      sq += kernels::cpu::SumSquares(e - b, p->grad.data() + b);
    }
    partial_[tt] = sq;
    pool.Barrier();
    double total = 0.0;
    for (double x : partial_) total += x;
    const double n = std::sqrt(total);
    if (tt == 0) norm = n;
    if (!std::isfinite(n)) return;  // contract: nothing is updated
    const float scale = clip_scale(n);
    for (size_t i = 0; i < params_.size(); ++i) {
      int64_t b, e;
      kernels::ShardRange(params_[i]->size(), tasks, tt, &b, &e);
      if (e > b) update(&cpu, i, scale, b, e);
    }
  };
  if (tasks > 1) {
    pool.Run(task);
  } else {
    task(0);
  }
  if (std::isfinite(norm)) steps_ = t_next;
  return norm;
}

}  // namespace

double LearningRate(const OptimizerSpec& opt, const ScheduleSpec& sched, int64_t step,
                    int64_t total_steps) {
  const double base = opt.lr;
  if (sched.warmup_steps > 0 && step < sched.warmup_steps) {
    // Linear warmup from 0: base/W at step 0, base at step W-1.
    return base * static_cast<double>(step + 1) / static_cast<double>(sched.warmup_steps);
  }
  if (sched.type == "step") {
    if (sched.step_size <= 0) return base;
    return base * std::pow(sched.gamma, static_cast<double>(step / sched.step_size));
  }
  if (sched.type == "cosine") {
    const double span = static_cast<double>(total_steps - sched.warmup_steps);
    double progress = span > 0 ? static_cast<double>(step - sched.warmup_steps) / span : 1.0;
    if (progress > 1.0) progress = 1.0;
    if (progress < 0.0) progress = 0.0;
    return sched.min_lr + (base - sched.min_lr) * 0.5 * (1.0 + std::cos(kPi * progress));
  }
  return base;  // constant
}

Result<std::unique_ptr<Optimizer>> Optimizer::Create(const OptimizerSpec& spec,
                                                     const std::vector<Param*>& params,
                                                     kernels::Backend* backend) {
  auto fail = [](const std::string& m) { return Status::InvalidArgument("optimizer." + m); };
  if (spec.type != "sgd" && spec.type != "adam" && spec.type != "adamw") {
    return fail("type: expected sgd | adam | adamw, got '" + spec.type + "'");
  }
  if (!(spec.lr >= 0.0) || !std::isfinite(spec.lr)) {
    return fail("lr: expected a finite value >= 0, got " + std::to_string(spec.lr));
  }
  if (!(spec.weight_decay >= 0.0)) {
    return fail("weight_decay: expected >= 0, got " + std::to_string(spec.weight_decay));
  }
  if (spec.grad_clip.has_value() && !(*spec.grad_clip > 0.0)) {
    return fail("grad_clip: expected > 0 (or leave it unset to disable clipping), got " +
                std::to_string(*spec.grad_clip));
  }
  if (spec.type == "sgd") {
    if (!(spec.momentum >= 0.0 && spec.momentum < 1.0)) {
      return fail("momentum: expected a value in [0, 1), got " + std::to_string(spec.momentum));
    }
    if (spec.nesterov && spec.momentum == 0.0) {
      return fail("nesterov: Nesterov momentum needs momentum > 0 (hint: set optimizer.momentum)");
    }
  } else {
    if (!(spec.beta1 >= 0.0 && spec.beta1 < 1.0) || !(spec.beta2 >= 0.0 && spec.beta2 < 1.0)) {
      return fail("beta1/beta2: expected values in [0, 1), got " + std::to_string(spec.beta1) +
                  " and " + std::to_string(spec.beta2));
    }
    if (!(spec.eps > 0.0)) return fail("eps: expected > 0, got " + std::to_string(spec.eps));
  }
  bool on_device = false;
  for (const Param* p : params) on_device = on_device || p->device_value != nullptr;
  if (on_device && (backend == nullptr || backend->host_memory())) {
    return Status::InvalidArgument(
        "optimizer: the model's parameters live on a device; pass the model's backend "
        "(Model::backend()) to Optimizer::Create");
  }
  auto opt = std::make_unique<OptimizerImpl>(spec, params, on_device ? backend : nullptr);
  if (!opt->allocated()) {
    return Status::FailedPrecondition("optimizer: could not allocate its state on " +
                                      backend->name() + " (out of device memory?)");
  }
  return std::unique_ptr<Optimizer>(std::move(opt));
}

}  // namespace hpcai::runtime
