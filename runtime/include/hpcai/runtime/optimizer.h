// Optimizers (SGD with momentum/Nesterov, Adam, AdamW) and LR schedules.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"
#include "hpcai/runtime/model.h"

namespace hpcai::runtime {

// Learning rate at `step` (0-based) of `total_steps`: linear warmup over
// warmup_steps, then constant | step | cosine (down to min_lr at total_steps).
double LearningRate(const OptimizerSpec& opt, const ScheduleSpec& sched, int64_t step,
                    int64_t total_steps);

// A named state tensor of the optimizer (for checkpoints), e.g.
// "dense0.weight/momentum", "dense0.weight/adam_m".
struct OptimizerState {
  std::string name;
  std::vector<float>* data;
};

class Optimizer {
 public:
  // `backend`: the model's (Model::backend()); nullptr = CPU.  Device
  // models' params (Param::device_value set) are updated on that device, with
  // the state on the device too.  InvalidArgument when device params come
  // without a device backend.
  static Result<std::unique_ptr<Optimizer>> Create(const OptimizerSpec& spec,
                                                   const std::vector<Param*>& params,
                                                   kernels::Backend* backend = nullptr);
  virtual ~Optimizer() = default;
  // Applies one update with learning rate `lr` using Param::grad (already
  // averaged across ranks).  Gradient clipping (global norm) is applied first
  // when configured.  Returns the global gradient norm before clipping.  If
  // that norm is not finite, nothing (parameters, state, steps()) changes and
  // the non-finite norm is returned.  Weight decay skips Param::decay == false
  // (biases).  Runs on kernels::CpuPool() (see Model::SetThreads).
  virtual double Step(double lr) = 0;
  // Number of Step() calls so far (Adam bias correction); restored from checkpoints.
  virtual int64_t steps() const = 0;
  virtual void set_steps(int64_t steps) = 0;
  // All state tensors, in a stable order (host vectors; on a device
  // optimizer they are mirrors: SyncStateToHost() before reading them,
  // SyncStateToDevice() after changing them, e.g. on checkpoint restore).
  virtual std::vector<OptimizerState> state() = 0;
  virtual void SyncStateToHost() {}
  virtual void SyncStateToDevice() {}
};

}  // namespace hpcai::runtime
