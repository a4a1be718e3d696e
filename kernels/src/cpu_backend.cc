// The CPU implementation of Backend: host memory, ops forwarded to cpu.h.
#include <cstdlib>
#include <cstring>

#include "cpu_backend.h"
#include "hpcai/kernels/backend.h"
#include "hpcai/kernels/cpu.h"

namespace hpcai::kernels {
namespace {

// 64-byte alignment: full cache lines and aligned AVX-512 loads.
void* AlignedZeroed(size_t bytes) {
  if (bytes == 0) bytes = 64;
  bytes = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (p != nullptr) std::memset(p, 0, bytes);
  return p;
}

class CpuBackendImpl final : public Backend {
 public:
  std::string name() const override { return "cpu"; }
  bool host_memory() const override { return true; }
  bool reentrant() const override { return true; }

  float* AllocFloats(int64_t count) override {
    return static_cast<float*>(AlignedZeroed(sizeof(float) * static_cast<size_t>(count)));
  }
  int32_t* AllocInts(int64_t count) override {
    return static_cast<int32_t*>(AlignedZeroed(sizeof(int32_t) * static_cast<size_t>(count)));
  }
  void Free(void* ptr) override { std::free(ptr); }
  void CopyIn(float* dst, const float* host, int64_t count) override {
    if (count > 0 && dst != host) std::memcpy(dst, host, sizeof(float) * count);
  }
  void CopyInInts(int32_t* dst, const int32_t* host, int64_t count) override {
    if (count > 0 && dst != host) std::memcpy(dst, host, sizeof(int32_t) * count);
  }
  void CopyOut(float* host, const float* src, int64_t count) override {
    if (count > 0 && host != src) std::memcpy(host, src, sizeof(float) * count);
  }
  void Zero(float* dst, int64_t count) override {
    if (count > 0) std::memset(dst, 0, sizeof(float) * count);
  }
  void Synchronize() override {}
  void StageIn(void* dst, const void* host, int64_t bytes, int /*slot*/) override {
    if (bytes > 0 && dst != host) std::memcpy(dst, host, static_cast<size_t>(bytes));
  }
  void ReleaseSlot(int /*slot*/) override {}

  void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
            int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    cpu::Gemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
  }
  void BiasActivationForward(Activation act, int64_t n, int64_t d, const float* bias, float* z,
                             float* y, const DropoutParams* dropout, int64_t row_offset) override {
    cpu::BiasActivationForward(act, n, d, bias, z, y, dropout, row_offset);
  }
  void BiasActivationBackward(Activation act, int64_t n, int64_t d, const float* saved,
                              bool saved_is_z, const float* dy, const DropoutParams* dropout,
                              int64_t row_offset, float* dz, float* dbias,
                              bool accumulate_bias) override {
    cpu::BiasActivationBackward(act, n, d, saved, saved_is_z, dy, dropout, row_offset, dz, dbias,
                                accumulate_bias);
  }
  void BiasGrad(int64_t n, int64_t d, int64_t ld, const float* g, float* dbias,
                bool accumulate) override {
    cpu::BiasGrad(n, d, ld, g, dbias, accumulate);
  }
  double SoftmaxCrossEntropy(int64_t n, int64_t c, const float* logits, const int32_t* labels,
                             float scale, float* dlogits, int64_t* correct) override {
    return cpu::SoftmaxCrossEntropy(n, c, logits, labels, scale, dlogits, correct);
  }
  void Im2colNhwc(const ConvGeometry& g, int64_t n, const float* x, float* col) override {
    cpu::Im2colNhwc(g, n, x, col);
  }
  void Col2imNhwc(const ConvGeometry& g, int64_t n, const float* col, float* dx) override {
    cpu::Col2imNhwc(g, n, col, dx);
  }
  void MaxPoolForward(const PoolGeometry& g, int64_t n, const float* x, float* y,
                      int32_t* argmax) override {
    cpu::MaxPoolForward(g, n, x, y, argmax);
  }
  void MaxPoolBackward(const PoolGeometry& g, int64_t n, const float* dy,
                       const int32_t* argmax, float* dx) override {
    cpu::MaxPoolBackward(g, n, dy, argmax, dx);
  }
  void NchwToNhwc(int64_t n, int64_t c, int64_t h, int64_t w, const float* x, float* y) override {
    cpu::NchwToNhwc(n, c, h, w, x, y);
  }
  double SumSquares(int64_t n, const float* x) override { return cpu::SumSquares(n, x); }
  int64_t FirstNonFinite(int64_t n, const float* x) override { return cpu::FirstNonFinite(n, x); }
  void AddInto(int64_t n, const float* src, float* dst) override { cpu::AddInto(n, src, dst); }
  void SgdStep(int64_t n, const SgdParams& h, const float* g, float* p, float* v) override {
    cpu::SgdStep(n, h, g, p, v);
  }
  void AdamStep(int64_t n, const AdamParams& h, const float* g, float* p, float* m,
                float* v) override {
    cpu::AdamStep(n, h, g, p, m, v);
  }
};

}  // namespace

Backend& CpuBackend() {
  static CpuBackendImpl* backend = new CpuBackendImpl();  // never destroyed: used until exit
  return *backend;
}

std::unique_ptr<Backend> NewCpuBackend() { return std::make_unique<CpuBackendImpl>(); }

}  // namespace hpcai::kernels
