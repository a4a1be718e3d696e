// Private: the layers models are built from (llm.c style: explicit forward
// and backward per layer over preallocated buffers, no autograd graph).
//
// Execution model.  A step runs as T tasks (T = CPU pool threads; 1 on a
// non-reentrant backend such as CUDA).  Activation buffers hold the whole
// local batch; task t owns rows [b_t, e_t) of it (ShardRange).  Forward is
// purely per task.  Backward is collective among the tasks: every task calls
// Backward() of every layer in the same order; layers synchronise with
// ctx.Barrier() where a phase needs all rows (e.g. dW sums over the batch),
// and task 0 calls the layer-ready hook once the layer's Param::grad is final
// (task 0 is the thread that called ForwardBackward, so MPI calls from the
// hook come from the main thread).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/kernels/backend.h"
#include "hpcai/kernels/parallel.h"
#include "hpcai/runtime/model.h"

namespace hpcai::runtime::detail {

using kernels::Activation;
using kernels::Backend;

// A parameter as the kernels see it: pointers into backend memory (for the
// CPU backend these are Param::value/grad's own storage).
struct ParamRef {
  Param* param = nullptr;
  float* value = nullptr;
  float* grad = nullptr;
};

// Backend buffer owned by a layer; grows only (no allocation per step once warm).
class Buffer {
 public:
  Buffer() = default;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  ~Buffer() { Release(); }
  void Ensure(Backend* be, int64_t count);
  float* data() const { return data_; }
  int64_t size() const { return size_; }

 private:
  void Release();
  Backend* be_ = nullptr;
  float* data_ = nullptr;
  int64_t size_ = 0;
};
class IntBuffer {
 public:
  IntBuffer() = default;
  IntBuffer(const IntBuffer&) = delete;
  IntBuffer& operator=(const IntBuffer&) = delete;
  ~IntBuffer() { Release(); }
  void Ensure(Backend* be, int64_t count);
  int32_t* data() const { return data_; }

 private:
  void Release();
  Backend* be_ = nullptr;
  int32_t* data_ = nullptr;
  int64_t size_ = 0;
};

// What every layer call gets.
struct StepContext {
  Backend* be = nullptr;
  kernels::ThreadPool* pool = nullptr;  // nullptr when T == 1
  int tasks = 1;
  int64_t n = 0;  // rows (samples) of the whole local batch
  bool train = false;
  void Barrier() const {
    if (pool != nullptr) pool->Barrier();
  }
};

class Layer {
 public:
  virtual ~Layer() = default;
  const std::string& name() const { return name_; }
  int index() const { return index_; }
  int64_t in_size() const { return in_size_; }    // features per sample (input)
  int64_t out_size() const { return out_size_; }  // features per sample (output)
  const std::vector<ParamRef>& params() const { return params_; }
  // One-line description, e.g. "dense 784->512 relu".
  virtual std::string Describe() const = 0;

  // Makes the buffers hold `rows` samples and the per-task scratch `tasks` tasks.
  virtual void Reserve(int64_t rows, int tasks) = 0;
  // Rows [b, e) of x: (n, in) -> rows [b, e) of output(): (n, out).
  virtual void Forward(const StepContext& c, int task, int64_t b, int64_t e, const float* x,
                       uint64_t dropout_seed) = 0;
  // Collective over tasks (see file comment).  On entry grad_output() rows
  // [b, e) hold dL/d(output); the layer may overwrite them.  Writes Param
  // grads (overwritten), then (task 0) calls ready(); then, if dx != nullptr,
  // rows [b, e) of dx: (n, in) = dL/dx.
  virtual void Backward(const StepContext& c, int task, int64_t b, int64_t e, const float* x,
                        float* dx, uint64_t dropout_seed, const std::function<void()>& ready) = 0;

  // (n, out) output of the last Forward and its gradient buffer.
  virtual const float* output() const = 0;
  virtual float* grad_output() = 0;

 protected:
  std::string name_;
  int index_ = 0;
  int64_t in_size_ = 0, out_size_ = 0;
  std::vector<ParamRef> params_;
};

struct DenseConfig {
  std::string name;
  int index = 0;
  int64_t in = 0, out = 0;
  Activation act = Activation::kIdentity;
  float dropout = 0.0f;  // probability of zeroing an output (train only)
};
std::unique_ptr<Layer> MakeDense(const DenseConfig& cfg, Backend* be, Param* weight, Param* bias);

struct ConvConfig {
  std::string name;
  int index = 0;
  int64_t in_h = 0, in_w = 0, in_c = 0;
  int64_t filters = 0, kernel = 3, stride = 1, padding = 1, pool = 1;
  Activation act = Activation::kRelu;
  // Rows of the im2col matrix processed per chunk (bounds scratch memory and
  // keeps the chunk in cache).
  int64_t chunk_rows = 2048;  // measured: 2048 beat 1024/4096/8192 for the Fashion-MNIST CNN
};
std::unique_ptr<Layer> MakeConv(const ConvConfig& cfg, Backend* be, Param* weight, Param* bias);

// Dropout parameters for probability p and a per-step seed.
kernels::DropoutParams MakeDropout(float p, uint64_t seed);

}  // namespace hpcai::runtime::detail
