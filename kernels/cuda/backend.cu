// The CUDA implementation of Backend: device buffers (cudaMalloc, no managed
// memory), one compute stream per backend with cuBLAS bound to it, a copy
// stream + pinned staging buffers for batches, and the kernels of launch.h.
//
// NOT RUN on this project's machines (no GPU): compiled and linked only.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "common.h"
#include "hpcai/kernels/backend.h"
#include "hpcai/kernels/cuda.h"
#include "launch.h"

namespace hpcai::kernels::cuda {
namespace {

thread_local int g_message_device = -1;

std::string HostName() {
  char buf[256] = {0};
  if (gethostname(buf, sizeof(buf) - 1) != 0) return "unknown-host";
  return buf;
}

const char* RankFromEnvironment() {
  for (const char* name : {"SLURM_PROCID", "OMPI_COMM_WORLD_RANK", "PMI_RANK"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return v;
  }
  return "?";
}

int LocalRankFromEnvironment() {
  for (const char* name : {"SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') {
      char* end = nullptr;
      const long x = std::strtol(v, &end, 10);
      if (end != nullptr && *end == '\0' && x >= 0) return static_cast<int>(x);
    }
  }
  return 0;
}

Status CudaStatus(const char* call, cudaError_t e) {
  return Status::FailedPrecondition(std::string(call) + " failed on host " + HostName() + ": " +
                                    cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
}

#define HPCAI_CUDA_RETURN(call)                       \
  do {                                                \
    cudaError_t hpcai_e_ = (call);                    \
    if (hpcai_e_ != cudaSuccess) return CudaStatus(#call, hpcai_e_); \
  } while (0)

// Device scratch that only grows (grows synchronise the stream first).
template <typename T>
struct DeviceScratch {
  T* ptr = nullptr;
  int64_t count = 0;
  T* Get(cudaStream_t s, int64_t n) {
    if (n <= count) return ptr;
    HPCAI_CUDA_CHECK(cudaStreamSynchronize(s));
    if (ptr != nullptr) HPCAI_CUDA_CHECK(cudaFree(ptr));
    HPCAI_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr), sizeof(T) * static_cast<size_t>(n)));
    count = n;
    return ptr;
  }
  void Release() {
    if (ptr != nullptr) cudaFree(ptr);
    ptr = nullptr;
    count = 0;
  }
};

// Scalars read back to the host after a reduction.
struct Results {
  double loss;
  long long hits;
  unsigned long long index;
  double sum;
};

class CudaBackendImpl final : public Backend {
 public:
  explicit CudaBackendImpl(int device) : device_(device) {}
  ~CudaBackendImpl() override {
    cudaSetDevice(device_);
    cudaStreamSynchronize(compute_);
    cudaStreamSynchronize(copy_);
    for (Slot& s : slots_) {
      if (s.pinned != nullptr) cudaFreeHost(s.pinned);
      if (s.copied != nullptr) cudaEventDestroy(s.copied);
      if (s.released != nullptr) cudaEventDestroy(s.released);
    }
    row_loss_.Release();
    row_hit_.Release();
    partial_.Release();
    if (results_dev_ != nullptr) cudaFree(results_dev_);
    if (results_host_ != nullptr) cudaFreeHost(results_host_);
    if (blas_ != nullptr) cublasDestroy(blas_);
    if (copy_ != nullptr) cudaStreamDestroy(copy_);
    if (compute_ != nullptr) cudaStreamDestroy(compute_);
  }

  Status Init(bool allow_tf32) {
    SetCurrentDeviceForMessages(device_);
    HPCAI_CUDA_RETURN(cudaSetDevice(device_));
    HPCAI_CUDA_RETURN(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
    HPCAI_CUDA_RETURN(cudaStreamCreateWithFlags(&copy_, cudaStreamNonBlocking));
    for (Slot& s : slots_) {
      HPCAI_CUDA_RETURN(cudaEventCreateWithFlags(&s.copied, cudaEventDisableTiming));
      HPCAI_CUDA_RETURN(cudaEventCreateWithFlags(&s.released, cudaEventDisableTiming));
    }
    HPCAI_CUDA_RETURN(cudaMalloc(reinterpret_cast<void**>(&results_dev_), sizeof(Results)));
    HPCAI_CUDA_RETURN(cudaMallocHost(reinterpret_cast<void**>(&results_host_), sizeof(Results)));
    cublasStatus_t b = cublasCreate(&blas_);
    if (b != CUBLAS_STATUS_SUCCESS) {
      return Status::FailedPrecondition(std::string("cublasCreate failed on host ") + HostName() +
                                        ": " + cublasGetStatusString(b));
    }
    if (cublasSetStream(blas_, compute_) != CUBLAS_STATUS_SUCCESS ||
        cublasSetMathMode(blas_, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH) !=
            CUBLAS_STATUS_SUCCESS) {
      return Status::FailedPrecondition("cublasSetStream/cublasSetMathMode failed on host " +
                                        HostName());
    }
    return Status::OK();
  }

  std::string name() const override { return "cuda:" + std::to_string(device_); }
  bool host_memory() const override { return false; }
  bool reentrant() const override { return false; }
  void* native_stream() const override { return compute_; }

  // ---- memory ----
  float* AllocFloats(int64_t count) override {
    return static_cast<float*>(Alloc(sizeof(float) * static_cast<size_t>(count)));
  }
  int32_t* AllocInts(int64_t count) override {
    return static_cast<int32_t*>(Alloc(sizeof(int32_t) * static_cast<size_t>(count)));
  }
  void Free(void* ptr) override {
    if (ptr != nullptr) HPCAI_CUDA_CHECK(cudaFree(ptr));  // cudaFree synchronises the device
  }
  void CopyIn(float* dst, const float* host, int64_t count) override {
    Upload(dst, host, sizeof(float) * static_cast<size_t>(count));
  }
  void CopyInInts(int32_t* dst, const int32_t* host, int64_t count) override {
    Upload(dst, host, sizeof(int32_t) * static_cast<size_t>(count));
  }
  void CopyOut(float* host, const float* src, int64_t count) override {
    if (count <= 0) return;
    HPCAI_CUDA_CHECK(cudaMemcpyAsync(host, src, sizeof(float) * static_cast<size_t>(count),
                                     cudaMemcpyDeviceToHost, compute_));
    HPCAI_CUDA_CHECK(cudaStreamSynchronize(compute_));
  }
  void Zero(float* dst, int64_t count) override {
    if (count > 0) {
      HPCAI_CUDA_CHECK(cudaMemsetAsync(dst, 0, sizeof(float) * static_cast<size_t>(count), compute_));
    }
  }
  void Synchronize() override { HPCAI_CUDA_CHECK(cudaStreamSynchronize(compute_)); }

  void StageIn(void* dst, const void* host, int64_t bytes, int slot) override {
    if (bytes <= 0) return;
    Slot& s = slots_[slot & 1];
    if (s.offset == 0) {
      // The previous copies out of this staging area must be done before
      // the host overwrites it.
      HPCAI_CUDA_CHECK(cudaEventSynchronize(s.copied));
    }
    const int64_t need = s.offset + (bytes + 255) / 256 * 256;
    if (need > s.capacity) {
      // Grow (rare: the first steps).  Earlier copies of this step read the
      // old area: let them finish first.
      HPCAI_CUDA_CHECK(cudaStreamSynchronize(copy_));
      void* bigger = nullptr;
      HPCAI_CUDA_CHECK(cudaMallocHost(&bigger, static_cast<size_t>(need * 2)));
      if (s.pinned != nullptr) HPCAI_CUDA_CHECK(cudaFreeHost(s.pinned));
      s.pinned = bigger;
      s.capacity = need * 2;
    }
    char* staging = static_cast<char*>(s.pinned) + s.offset;
    std::memcpy(staging, host, static_cast<size_t>(bytes));
    // The destination may still be read by compute issued before the last
    // ReleaseSlot of this slot; the copy waits for exactly that.
    HPCAI_CUDA_CHECK(cudaStreamWaitEvent(copy_, s.released, 0));
    HPCAI_CUDA_CHECK(cudaMemcpyAsync(dst, staging, static_cast<size_t>(bytes),
                                     cudaMemcpyHostToDevice, copy_));
    HPCAI_CUDA_CHECK(cudaEventRecord(s.copied, copy_));
    // Compute issued from now on sees the data.
    HPCAI_CUDA_CHECK(cudaStreamWaitEvent(compute_, s.copied, 0));
    s.offset = need;
  }
  void ReleaseSlot(int slot) override {
    Slot& s = slots_[slot & 1];
    HPCAI_CUDA_CHECK(cudaEventRecord(s.released, compute_));
    s.offset = 0;
  }

  // ---- compute ----
  void Gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
            int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) override {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
      launch::ScaleMatrix(compute_, m, n, beta, c, ldc);
      return;
    }
    // Row-major C(m,n) = op(A) op(B) is column-major C^T(n,m) = op(B)^T op(A)^T:
    // swap the operands, keep each one's transposition flag and leading dimension.
    HPCAI_CUBLAS_CHECK(cublasSgemm(blas_, tb ? CUBLAS_OP_T : CUBLAS_OP_N,
                                   ta ? CUBLAS_OP_T : CUBLAS_OP_N, static_cast<int>(n),
                                   static_cast<int>(m), static_cast<int>(k), &alpha, b,
                                   static_cast<int>(ldb), a, static_cast<int>(lda), &beta, c,
                                   static_cast<int>(ldc)));
  }
  void BiasActivationForward(Activation act, int64_t n, int64_t d, const float* bias, float* z,
                             float* y, const DropoutParams* dropout, int64_t row_offset) override {
    launch::BiasActivationForward(compute_, act, n, d, bias, z, y, dropout, row_offset);
  }
  void BiasActivationBackward(Activation act, int64_t n, int64_t d, const float* saved,
                              bool saved_is_z, const float* dy, const DropoutParams* dropout,
                              int64_t row_offset, float* dz, float* dbias,
                              bool accumulate_bias) override {
    launch::BiasActivationBackward(compute_, act, n, d, saved, saved_is_z, dy, dropout, row_offset,
                                   dz);
    if (dbias != nullptr) launch::BiasGrad(compute_, n, d, d, dz, dbias, accumulate_bias);
  }
  void BiasGrad(int64_t n, int64_t d, int64_t ld, const float* g, float* dbias,
                bool accumulate) override {
    launch::BiasGrad(compute_, n, d, ld, g, dbias, accumulate);
  }
  double SoftmaxCrossEntropy(int64_t n, int64_t c, const float* logits, const int32_t* labels,
                             float scale, float* dlogits, int64_t* correct) override {
    if (n <= 0) return 0.0;
    double* rl = row_loss_.Get(compute_, n);
    int* rh = row_hit_.Get(compute_, n);
    launch::SoftmaxCrossEntropy(compute_, n, c, logits, labels, scale, dlogits, rl, rh,
                                &results_dev_->loss, &results_dev_->hits);
    ReadResults();
    if (correct != nullptr) *correct += results_host_->hits;
    return results_host_->loss;
  }
  void Im2colNhwc(const ConvGeometry& g, int64_t n, const float* x, float* col) override {
    launch::Im2colNhwc(compute_, g, n, x, col);
  }
  void Col2imNhwc(const ConvGeometry& g, int64_t n, const float* col, float* dx) override {
    launch::Col2imNhwc(compute_, g, n, col, dx);
  }
  void MaxPoolForward(const PoolGeometry& g, int64_t n, const float* x, float* y,
                      int32_t* argmax) override {
    launch::MaxPoolForward(compute_, g, n, x, y, argmax);
  }
  void MaxPoolBackward(const PoolGeometry& g, int64_t n, const float* dy, const int32_t* argmax,
                       float* dx) override {
    launch::MaxPoolBackward(compute_, g, n, dy, argmax, dx);
  }
  void NchwToNhwc(int64_t n, int64_t c, int64_t h, int64_t w, const float* x, float* y) override {
    launch::NchwToNhwc(compute_, n, c, h, w, x, y);
  }
  double SumSquares(int64_t n, const float* x) override {
    if (n <= 0) return 0.0;
    double* part = partial_.Get(compute_, (n + kSumBlock - 1) / kSumBlock);
    launch::SumSquares(compute_, n, x, part, &results_dev_->sum);
    ReadResults();
    return results_host_->sum;
  }
  int64_t FirstNonFinite(int64_t n, const float* x) override {
    if (n <= 0) return -1;
    launch::FirstNonFinite(compute_, n, x, &results_dev_->index);
    ReadResults();
    const unsigned long long i = results_host_->index;
    return i >= static_cast<unsigned long long>(n) ? -1 : static_cast<int64_t>(i);
  }
  void AddInto(int64_t n, const float* src, float* dst) override {
    launch::AddInto(compute_, n, src, dst);
  }
  void SgdStep(int64_t n, const SgdParams& h, const float* g, float* p, float* v) override {
    launch::SgdStep(compute_, n, h, g, p, v);
  }
  void AdamStep(int64_t n, const AdamParams& h, const float* g, float* p, float* m,
                float* v) override {
    launch::AdamStep(compute_, n, h, g, p, m, v);
  }

 private:
  struct Slot {
    void* pinned = nullptr;
    int64_t capacity = 0, offset = 0;
    cudaEvent_t copied = nullptr, released = nullptr;
  };

  void* Alloc(size_t bytes) {
    if (bytes == 0) bytes = 4;
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error so the caller can report it
      return nullptr;
    }
    HPCAI_CUDA_CHECK(cudaMemsetAsync(p, 0, bytes, compute_));
    return p;
  }
  // Parameter uploads (rare): ordered on the compute stream, and complete on
  // return so the host buffer may change at once.
  void Upload(void* dst, const void* host, size_t bytes) {
    if (bytes == 0) return;
    HPCAI_CUDA_CHECK(cudaMemcpyAsync(dst, host, bytes, cudaMemcpyHostToDevice, compute_));
    HPCAI_CUDA_CHECK(cudaStreamSynchronize(compute_));
  }
  void ReadResults() {
    HPCAI_CUDA_CHECK(cudaMemcpyAsync(results_host_, results_dev_, sizeof(Results),
                                     cudaMemcpyDeviceToHost, compute_));
    HPCAI_CUDA_CHECK(cudaStreamSynchronize(compute_));
  }

  int device_;
  cudaStream_t compute_ = nullptr, copy_ = nullptr;
  cublasHandle_t blas_ = nullptr;
  Slot slots_[2];
  DeviceScratch<double> row_loss_, partial_;
  DeviceScratch<int> row_hit_;
  Results* results_dev_ = nullptr;
  Results* results_host_ = nullptr;
};

}  // namespace

void SetCurrentDeviceForMessages(int device) { g_message_device = device; }

[[noreturn]] void Fail(const char* call, const char* file, int line, const char* what) {
  std::fprintf(stderr, "hpcai: CUDA error: %s failed at %s:%d on host %s, rank %s, device %d: %s\n",
               call, file, line, HostName().c_str(), RankFromEnvironment(), g_message_device, what);
  std::fflush(stderr);
  std::abort();
}

Result<int> DeviceCount() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    return Status::FailedPrecondition(std::string("no CUDA device visible (cudaGetDeviceCount: ") +
                                      cudaGetErrorName(e) + ": " + cudaGetErrorString(e) +
                                      ") on host " + HostName());
  }
  if (n == 0) {
    const char* vis = std::getenv("CUDA_VISIBLE_DEVICES");
    return Status::FailedPrecondition(
        std::string("no CUDA device visible (cudaGetDeviceCount: 0 devices") +
        (vis != nullptr ? std::string(", CUDA_VISIBLE_DEVICES=") + vis : std::string()) +
        ") on host " + HostName());
  }
  return n;
}

Result<int> SelectDevice(int requested) {
  HPCAI_ASSIGN_OR_RETURN(int count, DeviceCount());
  if (requested >= 0) {
    if (requested >= count) {
      return Status::FailedPrecondition("CUDA device " + std::to_string(requested) +
                                        " requested but only " + std::to_string(count) +
                                        " visible on host " + HostName());
    }
    return requested;
  }
  return LocalRankFromEnvironment() % count;
}

Result<std::string> DeviceDescription(int device) {
  cudaDeviceProp p{};
  const cudaError_t e = cudaGetDeviceProperties(&p, device);
  if (e != cudaSuccess) return CudaStatus("cudaGetDeviceProperties", e);
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%s (sm_%d%d, %.1f GiB)", p.name, p.major, p.minor,
                static_cast<double>(p.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0));
  return std::string(buf);
}

Result<std::unique_ptr<Backend>> CreateCudaBackend(int device, bool allow_tf32) {
  HPCAI_ASSIGN_OR_RETURN(int chosen, SelectDevice(device));
  auto be = std::make_unique<CudaBackendImpl>(chosen);
  HPCAI_RETURN_IF_ERROR(be->Init(allow_tf32));
  return std::unique_ptr<Backend>(std::move(be));
}

}  // namespace hpcai::kernels::cuda
