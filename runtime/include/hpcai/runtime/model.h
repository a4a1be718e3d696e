// Models: explicit per-layer forward/backward (llm.c style, no autograd graph).
//
// Data-parallel contract: ForwardBackward() scales every gradient by
// 1/global_batch (the size of the WHOLE global batch across ranks), so a SUM
// allreduce of the gradients yields exactly the global-mean gradient, for any
// rank count and for uneven/partial batches.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/base/rng.h"
#include "hpcai/base/status.h"
#include "hpcai/configs/spec.h"

namespace hpcai::kernels {
class Backend;  // kernels/backend.h
}  // namespace hpcai::kernels

namespace hpcai::runtime {

// A parameter tensor and its gradient (same size), fp32, host memory.
struct Param {
  std::string name;               // e.g. "dense0.weight", "conv1.bias" (checkpoint dataset name)
  std::vector<int64_t> shape;     // e.g. {out, in}
  std::vector<float> value;
  std::vector<float> grad;
  int layer = 0;                  // index of the layer that owns it
  bool decay = true;              // weight decay applies (false for biases)
  // Device models only (ModelOptions::backend "cuda"): the storage the
  // kernels, the optimizer and NCCL use.  `value`/`grad` are then host
  // mirrors: Model::SyncToHost() refreshes them, SyncToDevice() uploads
  // `value`.  nullptr on the CPU, where value/grad ARE the storage.
  float* device_value = nullptr;
  float* device_grad = nullptr;
  int64_t size() const { return static_cast<int64_t>(value.size()); }
};

// Where a model runs.
struct ModelOptions {
  std::string backend = "cpu";  // cpu | cuda
  int device = -1;              // cuda: device index; -1 = node-local rank modulo visible devices
  bool allow_tf32 = false;      // cuda: TF32 GEMMs (training.precision: tf32)
};

class Model {
 public:
  // Builds the model for inputs of `input_shape` (per sample, e.g. {784} or
  // {1,28,28}) and `num_classes` outputs; initialises parameters from `seed`
  // (He or Xavier per spec).  InvalidArgument when the spec does not fit the
  // input (e.g. CNN on a flat input, pooling larger than the feature map).
  static Result<std::unique_ptr<Model>> Create(const ModelSpec& spec,
                                               const std::vector<int64_t>& input_shape,
                                               int num_classes, uint64_t seed);
  // The same on a chosen backend.  FailedPrecondition when the backend is
  // missing (e.g. "cuda" on a CPU-only build, or "no CUDA device visible
  // (cudaGetDeviceCount: ...)"), with the reason in one line.
  static Result<std::unique_ptr<Model>> Create(const ModelSpec& spec,
                                               const std::vector<int64_t>& input_shape,
                                               int num_classes, uint64_t seed,
                                               const ModelOptions& options);
  virtual ~Model() = default;

  // Parameters in forward order; pointers stay valid for the model's lifetime.
  virtual std::vector<Param*> params() = 0;
  virtual int num_layers() const = 0;
  // Human description, e.g. "mlp 784-256-128-10 relu (235,146 params)".
  virtual std::string Describe() const = 0;

  // One training pass over a local batch.  x: (n, in), y: (n).  Overwrites
  // (not accumulates) every Param::grad with d(sum_i loss_i / global_n)/dparam.
  // `on_layer_ready(layer)` is called in reverse layer order as soon as that
  // layer's gradients are final (hook for bucketed allreduce); may be empty.
  // `dropout_rng` drives dropout masks (unused when dropout == 0).
  // Returns the SUM of per-sample losses of this local batch (for metrics).
  // n may be 0 (grads become zero, hook still fires for every layer).
  // x and y are host memory (device models stage them to the device).  Labels
  // must be in [0, num_classes); one outside makes the loss NaN (the guard
  // then reports it).  The hook runs on the calling thread.  On a device
  // model it fires once the layer's gradient kernels are ISSUED on
  // device_stream(): order device-side work after it (CUDA events).
  virtual double ForwardBackward(const float* x, const int32_t* y, int64_t n, int64_t global_n,
                                 Rng* dropout_rng,
                                 const std::function<void(int layer)>& on_layer_ready) = 0;

  // Inference (dropout off).  Adds this batch's loss sum and number of correct
  // argmax predictions to *loss_sum and *correct.
  virtual void Evaluate(const float* x, const int32_t* y, int64_t n, double* loss_sum,
                        int64_t* correct) = 0;

  // Sets the CPU threads a step may use (the process-wide kernels::CpuPool()):
  // the batch is split into one shard per thread and each shard calls
  // single-threaded OpenBLAS, so this also sets OpenBLAS to 1 thread.  Call
  // it after any openblas_set_num_threads() and from the main thread.  The
  // optimizer uses the same pool.  Results are bitwise reproducible for a
  // fixed thread count.
  virtual void SetThreads(int threads) = 0;

  // Optional: allocates activations for batches of up to max_batch samples
  // now (they otherwise grow on first use; never per step once warm).
  virtual void Reserve(int64_t max_batch) {}

  // For the numerical guard, after a non-finite loss or gradient: where the
  // first non-finite value is, searching (1) parameters in forward order,
  // (2) layer outputs of the last forward pass in forward order, (3)
  // gradients in backward order (the order they were computed).  E.g.
  // "output of layer 1 'dense1'" or "gradient of 'dense2.weight' (layer 2)";
  // "" when everything is finite.
  virtual std::string DiagnoseNonFinite();

  // The kernel backend the model runs on (give it to Optimizer::Create).
  virtual kernels::Backend* backend() { return nullptr; }
  // Device models: the compute stream (cudaStream_t) as void*, for the NCCL
  // GradientSync (GradientSyncOptions::cuda_stream); nullptr on the CPU.
  virtual void* device_stream() const { return nullptr; }
  // Device models: copies Param::value and Param::grad from the device into
  // the host vectors (before checkpoints, host-side checks), or Param::value
  // to the device (after a broadcast or a checkpoint restore).  No-ops on
  // the CPU.  They wait for the device.
  virtual void SyncToHost() {}
  virtual void SyncToDevice() {}
};

// The first parameter in backward order (the order gradients are computed)
// whose gradient holds a NaN/Inf, as "'<name>' (layer <n>)"; "" if all are finite.
std::string FirstNonFiniteGrad(const std::vector<Param*>& params);

}  // namespace hpcai::runtime
