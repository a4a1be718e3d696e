// The kernel interface every device implements (CPU now, CUDA in cuda.h).
//
// Layers are written once against Backend: each method is one op with the
// same contract and shapes as the function of the same name in cpu.h (read
// the shape comments there).  Pointers passed to a backend's ops live in that
// backend's memory: host memory for "cpu", device memory for "cuda".  The
// virtual call is per op (per layer), never per element.
//
// Thread safety: the CPU backend's ops are reentrant (the model calls them
// from several threads on disjoint rows).  The CUDA backend is used from one
// thread and orders all ops on its single compute stream.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/base/status.h"
#include "hpcai/kernels/elements.h"
#include "hpcai/kernels/math.h"

namespace hpcai::kernels {

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu" or "cuda:<device>".
  virtual std::string name() const = 0;
  // True when buffers are ordinary host memory (ops may then be given
  // std::vector data directly and results read without copies).
  virtual bool host_memory() const = 0;
  // True when several threads may call ops concurrently on disjoint data.
  virtual bool reentrant() const = 0;

  // ---- memory (zero-initialised; nullptr only if the allocation failed) ----
  virtual float* AllocFloats(int64_t count) = 0;
  virtual int32_t* AllocInts(int64_t count) = 0;
  virtual void Free(void* ptr) = 0;
  // host -> backend and backend -> host copies of `count` elements.  CopyOut
  // waits for the op stream; CopyIn may be asynchronous when `host` is pinned.
  virtual void CopyIn(float* dst, const float* host, int64_t count) = 0;
  virtual void CopyInInts(int32_t* dst, const int32_t* host, int64_t count) = 0;
  virtual void CopyOut(float* host, const float* src, int64_t count) = 0;
  virtual void Zero(float* dst, int64_t count) = 0;
  // Waits until every op issued so far has finished.
  virtual void Synchronize() = 0;

  // Per-step inputs (batches): copies `bytes` from host memory into dst
  // through pinned staging memory, asynchronously where the backend can (CUDA:
  // on a copy stream; later ops wait for it), so the host goes on at once and
  // may reuse `host` on return.  `slot` (0 or 1) names one of two
  // double-buffered destinations: a copy into a slot waits only for the ops
  // issued before the last ReleaseSlot(slot), so it overlaps compute still
  // reading the other slot.  CPU: a plain memcpy.
  virtual void StageIn(void* dst, const void* host, int64_t bytes, int slot) = 0;
  // Marks the ops issued so far as the last readers of `slot`'s buffers.
  virtual void ReleaseSlot(int slot) = 0;
  // The compute stream (cudaStream_t) as void*, for communicators that must
  // order their work after it; nullptr for the CPU.
  virtual void* native_stream() const { return nullptr; }

  // ---- compute (contracts: cpu.h) ----
  virtual void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta,
                    float* c, int64_t ldc) = 0;
  virtual void BiasActivationForward(Activation act, int64_t n, int64_t d, const float* bias,
                                     float* z, float* y, const DropoutParams* dropout,
                                     int64_t row_offset) = 0;
  virtual void BiasActivationBackward(Activation act, int64_t n, int64_t d, const float* saved,
                                      bool saved_is_z, const float* dy,
                                      const DropoutParams* dropout, int64_t row_offset, float* dz,
                                      float* dbias, bool accumulate_bias) = 0;
  virtual void BiasGrad(int64_t n, int64_t d, int64_t ld, const float* g, float* dbias,
                        bool accumulate) = 0;
  // labels live in backend memory; the loss sum and *correct are returned to the host.
  virtual double SoftmaxCrossEntropy(int64_t n, int64_t c, const float* logits,
                                     const int32_t* labels, float scale, float* dlogits,
                                     int64_t* correct) = 0;
  virtual void Im2colNhwc(const ConvGeometry& g, int64_t n, const float* x, float* col) = 0;
  virtual void Col2imNhwc(const ConvGeometry& g, int64_t n, const float* col,
                          float* dx) = 0;
  virtual void MaxPoolForward(const PoolGeometry& g, int64_t n, const float* x, float* y,
                              int32_t* argmax) = 0;
  virtual void MaxPoolBackward(const PoolGeometry& g, int64_t n, const float* dy,
                               const int32_t* argmax, float* dx) = 0;
  virtual void NchwToNhwc(int64_t n, int64_t c, int64_t h, int64_t w, const float* x,
                          float* y) = 0;
  virtual double SumSquares(int64_t n, const float* x) = 0;
  virtual int64_t FirstNonFinite(int64_t n, const float* x) = 0;
  virtual void AddInto(int64_t n, const float* src, float* dst) = 0;
  virtual void SgdStep(int64_t n, const SgdParams& h, const float* g, float* p, float* v) = 0;
  virtual void AdamStep(int64_t n, const AdamParams& h, const float* g, float* p, float* m,
                        float* v) = 0;
};

// What a backend is asked for.
struct BackendOptions {
  std::string kind = "cpu";  // cpu | cuda
  int device = -1;           // cuda: device index; -1 = pick from SLURM_LOCALID / local rank
  bool allow_tf32 = false;   // cuda: TF32 tensor-core GEMMs (spec precision: tf32)
};

// Creates a backend.  FailedPrecondition when the kind is not compiled into
// this build ("cuda" on a CPU-only build) or no device is visible, with the
// reason (e.g. "no CUDA device visible (cudaGetDeviceCount: ...)").
// InvalidArgument for an unknown kind.  The ONE place that knows which
// backends were compiled in is kernels/src/registry.cc.
Result<std::unique_ptr<Backend>> CreateBackend(const BackendOptions& options);

// Backends compiled into this build, e.g. {"cpu"} or {"cpu", "cuda"}.
std::vector<std::string> CompiledBackends();

// The process-wide CPU backend (stateless; never destroyed).
Backend& CpuBackend();

}  // namespace hpcai::kernels
