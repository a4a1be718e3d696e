// NCCL communicator (CUDA builds only; registered by comm_registry.cc).
//
// NOT RUN on this project's machines (no GPU anywhere): compiled and linked
// in the -DHPCAI_WITH_CUDA=ON build only.  docs/gpu.md lists what a user with
// a GPU should run to verify it.
//
// Design:
//  - Host-side collectives (Barrier, Broadcast of host buffers, scalar
//    allreduces, Gather, agreement) go through an inner MPI communicator:
//    they carry flags and metrics, not tensors.
//  - GradientSync reduces DEVICE tensors with ncclAllReduce on a private
//    communication stream.  Each bucket is ordered after the backward work
//    that produced it with a CUDA event recorded on the compute stream at
//    OnLayerReady, so the reduction overlaps the rest of backward.
//  - The unique id is created on rank 0 and broadcast over MPI; the
//    communicator is initialised non-blocking with a timeout, so one rank
//    failing to join cannot hang the others forever.
//  - Every failure aborts the NCCL communicator (ncclCommAbort) before it is
//    reported, so peers blocked in a collective are released, and the Status
//    names the call, host and rank.
#include <cuda_runtime.h>
#include <mpi.h>

#include <nccl.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "comm_internal.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {

Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(MPI_Comm base);

namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

Status CudaError(cudaError_t e, const char* call, const std::string& where) {
  return Status::FailedPrecondition(std::string(call) + " failed (" + where + "): " + cudaGetErrorName(e) +
                                    ": " + cudaGetErrorString(e));
}

Status NcclError(ncclResult_t r, const char* call, const std::string& where, ncclComm_t comm) {
  std::string detail = ncclGetErrorString(r);
  if (comm != nullptr) {
    const char* last = ncclGetLastError(comm);
    if (last && *last) detail += " (" + std::string(last) + ")";
  }
  return Status::IOError(std::string(call) + " failed (" + where + "): " + detail +
                         " (hint: a peer rank may have died; NCCL_DEBUG=WARN shows NCCL's own diagnosis)");
}

// Local rank for device selection: Slurm first, then Open MPI, then MPI's
// shared-memory split.
int DeviceLocalRank(int mpi_local_rank) {
  for (const char* name : {"SLURM_LOCALID", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID"}) {
    const char* v = std::getenv(name);
    if (v && *v) {
      char* end = nullptr;
      long x = std::strtol(v, &end, 10);
      if (*end == '\0' && x >= 0) return static_cast<int>(x);
    }
  }
  return mpi_local_rank;
}

class NcclCommunicator;

struct NcclBucket {
  BucketPlan plan;
  float* buffer = nullptr;  // device; nullptr when the bucket is one tensor (in place)
  float* data = nullptr;
  int pending_layers = 0;
  cudaEvent_t ready = nullptr;  // recorded on the compute stream when its layers are done
};

class NcclGradientSync final : public GradientSync {
 public:
  NcclGradientSync(NcclCommunicator* owner, std::vector<GradTensor> tensors, const GradientSyncOptions& options)
      : owner_(owner), tensors_(std::move(tensors)), options_(options) {}
  ~NcclGradientSync() override;

  Status Init();
  void OnLayerReady(int layer) override;
  Status Wait() override;
  const char* method() const override { return "nccl"; }
  int num_buckets() const override { return static_cast<int>(buckets_.size()); }
  const std::vector<BucketPlan>& plan() const override { return plan_; }
  GradientSyncStats TakeStats() override {
    GradientSyncStats s = stats_;
    stats_ = GradientSyncStats{};
    return s;
  }

 private:
  void Launch(int b);
  void Keep(const Status& s) {
    if (error_.ok() && !s.ok()) error_ = s;
  }
  void Reset() {
    error_ = Status::OK();
    started_ = 0;
    for (NcclBucket& k : buckets_) k.pending_layers = static_cast<int>(k.plan.layers.size());
  }
  cudaStream_t compute() const { return static_cast<cudaStream_t>(options_.cuda_stream); }

  NcclCommunicator* owner_;
  std::vector<GradTensor> tensors_;
  GradientSyncOptions options_;
  std::vector<BucketPlan> plan_;
  std::vector<NcclBucket> buckets_;
  std::vector<std::vector<int>> layer_buckets_;
  cudaEvent_t done_ = nullptr;
  int started_ = 0;
  int64_t total_floats_ = 0;
  Status error_;
  GradientSyncStats stats_;
};

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(std::unique_ptr<Communicator> mpi, int device) : mpi_(std::move(mpi)), device_(device) {}
  ~NcclCommunicator() override {
    if (comm_ != nullptr && !aborted_) ncclCommDestroy(comm_);
    if (stream_ != nullptr) cudaStreamDestroy(stream_);
  }

  // Collective over the ranks; every failure is agreed so no rank is left
  // waiting for a peer that gave up.
  Status Init() {
    Status local;
    cudaError_t ce = cudaSetDevice(device_);
    if (ce != cudaSuccess) {
      local = CudaError(ce, "cudaSetDevice", where());
    } else {
      ce = cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking);
      if (ce != cudaSuccess) local = CudaError(ce, "cudaStreamCreateWithFlags", where());
    }
    HPCAI_RETURN_IF_ERROR(AgreeStatus(*mpi_, local));

    ncclUniqueId id;
    std::memset(&id, 0, sizeof(id));
    if (rank() == 0) {
      ncclResult_t r = ncclGetUniqueId(&id);
      if (r != ncclSuccess) local = NcclError(r, "ncclGetUniqueId", where(), nullptr);
    }
    HPCAI_RETURN_IF_ERROR(AgreeStatus(*mpi_, local));
    std::string blob(reinterpret_cast<const char*>(&id), sizeof(id));
    HPCAI_RETURN_IF_ERROR(mpi_->BroadcastString(&blob, 0));
    if (blob.size() != sizeof(id)) return Status::Internal("ncclUniqueId broadcast has the wrong size");
    std::memcpy(&id, blob.data(), sizeof(id));

    // Non-blocking init: a peer that never joins cannot hang us forever.
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0;
    ncclResult_t r = ncclCommInitRankConfig(&comm_, size(), id, rank(), &config);
    local = Status::OK();
    if (r != ncclSuccess && r != ncclInProgress) {
      local = NcclError(r, "ncclCommInitRankConfig", where(), nullptr);
    } else {
      double timeout = 300;
      if (const char* t = std::getenv("HPCAI_NCCL_INIT_TIMEOUT")) timeout = std::atof(t) > 0 ? std::atof(t) : timeout;
      local = Poll("ncclCommInitRankConfig", timeout);
    }
    Status agreed = AgreeStatus(*mpi_, local);
    if (!agreed.ok()) Abort();  // also on ranks whose own init succeeded
    return agreed;
  }

  // Waits for the communicator's pending asynchronous work (init or a
  // launch in non-blocking mode).  Aborts on error or timeout.
  Status Poll(const char* call, double timeout_s) {
    const double t0 = Now();
    while (true) {
      ncclResult_t state = ncclSuccess;
      ncclResult_t r = ncclCommGetAsyncError(comm_, &state);
      if (r != ncclSuccess) return NcclError(r, "ncclCommGetAsyncError", where(), comm_);
      if (state == ncclSuccess) return Status::OK();
      if (state != ncclInProgress) return NcclError(state, call, where(), comm_);
      if (timeout_s > 0 && Now() - t0 > timeout_s) {
        return Status::IOError(std::string(call) + " did not complete within " + std::to_string(timeout_s) +
                               " s (" + where() + "); a peer rank probably failed");
      }
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }

  // Releases peers blocked in a collective with us; the communicator is
  // unusable afterwards.
  void Abort() {
    if (comm_ != nullptr && !aborted_) {
      ncclCommAbort(comm_);
      aborted_ = true;
    }
  }

  const char* backend() const override { return "nccl"; }
  int rank() const override { return mpi_->rank(); }
  int size() const override { return mpi_->size(); }
  int local_rank() const override { return mpi_->local_rank(); }
  int local_size() const override { return mpi_->local_size(); }
  const std::string& host() const override { return mpi_->host(); }
  int device() const { return device_; }
  ncclComm_t comm() const { return comm_; }
  cudaStream_t stream() const { return stream_; }
  bool aborted() const { return aborted_; }

  // Host-memory collectives: over MPI.
  Status Barrier() override { return mpi_->Barrier(); }
  Status Broadcast(float* data, int64_t n, int root) override { return mpi_->Broadcast(data, n, root); }
  Status Broadcast(uint64_t* data, int64_t n, int root) override { return mpi_->Broadcast(data, n, root); }
  Status BroadcastString(std::string* data, int root) override { return mpi_->BroadcastString(data, root); }
  Status AllreduceSum(double* data, int64_t n) override { return mpi_->AllreduceSum(data, n); }
  Status AllreduceSum(int64_t* data, int64_t n) override { return mpi_->AllreduceSum(data, n); }
  Status AllreduceMax(int64_t* data, int64_t n) override { return mpi_->AllreduceMax(data, n); }
  Status Gather(const uint64_t* data, int64_t n, uint64_t* out, int root) override {
    return mpi_->Gather(data, n, out, root);
  }

  // Host collectives only: a sub-communicator for flags and metrics.
  Result<std::unique_ptr<Communicator>> Split(int color) override { return mpi_->Split(color); }

  Result<std::unique_ptr<GradientSync>> CreateGradientSync(std::vector<GradTensor> tensors,
                                                           const GradientSyncOptions& options) override {
    if (tensors.empty()) return Status::InvalidArgument("CreateGradientSync: no gradient tensors");
    for (const GradTensor& t : tensors) {
      if (t.size <= 0 || t.data == nullptr || t.layer < 0) {
        return Status::InvalidArgument("CreateGradientSync: tensor '" + t.name + "' is empty or has no layer");
      }
      cudaPointerAttributes attr;
      cudaError_t ce = cudaPointerGetAttributes(&attr, t.data);
      if (ce != cudaSuccess || attr.type != cudaMemoryTypeDevice) {
        cudaGetLastError();  // clear the sticky-free error state of the query
        return Status::InvalidArgument("CreateGradientSync: tensor '" + t.name +
                                       "' is not in device memory (the NCCL backend reduces device tensors)");
      }
    }
    auto sync = std::make_unique<NcclGradientSync>(this, std::move(tensors), options);
    HPCAI_RETURN_IF_ERROR(sync->Init());
    return std::unique_ptr<GradientSync>(std::move(sync));
  }

 private:
  std::unique_ptr<Communicator> mpi_;
  int device_;
  ncclComm_t comm_ = nullptr;
  cudaStream_t stream_ = nullptr;
  bool aborted_ = false;
};

Status NcclGradientSync::Init() {
  plan_ = PlanBuckets(tensors_, options_.bucket_bytes, options_.inplace_bytes);
  buckets_.resize(plan_.size());
  const std::string where = owner_->where();
  for (size_t b = 0; b < plan_.size(); ++b) {
    NcclBucket& k = buckets_[b];
    k.plan = plan_[b];
    if (k.plan.tensors.size() == 1) {
      k.data = tensors_[k.plan.tensors[0]].data;
    } else {
      cudaError_t ce = cudaMalloc(reinterpret_cast<void**>(&k.buffer), k.plan.floats * sizeof(float));
      if (ce != cudaSuccess) return CudaError(ce, "cudaMalloc (gradient bucket)", where);
      k.data = k.buffer;
    }
    cudaError_t ce = cudaEventCreateWithFlags(&k.ready, cudaEventDisableTiming);
    if (ce != cudaSuccess) return CudaError(ce, "cudaEventCreateWithFlags", where);
    for (int layer : k.plan.layers) {
      if (layer >= static_cast<int>(layer_buckets_.size())) layer_buckets_.resize(layer + 1);
      layer_buckets_[layer].push_back(static_cast<int>(b));
    }
    total_floats_ += k.plan.floats;
  }
  cudaError_t ce = cudaEventCreateWithFlags(&done_, cudaEventDisableTiming);
  if (ce != cudaSuccess) return CudaError(ce, "cudaEventCreateWithFlags", where);
  Reset();
  return Status::OK();
}

NcclGradientSync::~NcclGradientSync() {
  if (owner_->stream() != nullptr) cudaStreamSynchronize(owner_->stream());
  for (NcclBucket& k : buckets_) {
    if (k.buffer) cudaFree(k.buffer);
    if (k.ready) cudaEventDestroy(k.ready);
  }
  if (done_) cudaEventDestroy(done_);
}

void NcclGradientSync::Launch(int b) {
  NcclBucket& k = buckets_[b];
  const std::string where = owner_->where();
  cudaStream_t cs = owner_->stream();
  // The reduction may only read this bucket once backward wrote it.
  cudaError_t ce = cudaEventRecord(k.ready, compute());
  if (ce == cudaSuccess) ce = cudaStreamWaitEvent(cs, k.ready, 0);
  if (ce != cudaSuccess) {
    Keep(CudaError(ce, "cudaEventRecord/cudaStreamWaitEvent", where));
    return;
  }
  if (k.buffer) {
    int64_t off = 0;
    for (int t : k.plan.tensors) {
      ce = cudaMemcpyAsync(k.buffer + off, tensors_[t].data, tensors_[t].size * sizeof(float),
                           cudaMemcpyDeviceToDevice, cs);
      if (ce != cudaSuccess) Keep(CudaError(ce, "cudaMemcpyAsync (pack)", where));
      off += tensors_[t].size;
    }
  }
  // Issued even after an earlier error: peers issue the same sequence, and a
  // failed communicator has been aborted (the call then returns at once).
  if (!owner_->aborted()) {
    ncclResult_t r = ncclAllReduce(k.data, k.data, static_cast<size_t>(k.plan.floats), ncclFloat, ncclSum,
                                   owner_->comm(), cs);
    if (r != ncclSuccess && r != ncclInProgress) {
      Keep(NcclError(r, "ncclAllReduce", where, owner_->comm()));
      owner_->Abort();
    }
  }
  if (k.buffer) {
    int64_t off = 0;
    for (int t : k.plan.tensors) {
      ce = cudaMemcpyAsync(tensors_[t].data, k.buffer + off, tensors_[t].size * sizeof(float),
                           cudaMemcpyDeviceToDevice, cs);
      if (ce != cudaSuccess) Keep(CudaError(ce, "cudaMemcpyAsync (unpack)", where));
      off += tensors_[t].size;
    }
  }
}

void NcclGradientSync::OnLayerReady(int layer) {
  const double t0 = Now();
  if (layer >= 0 && layer < static_cast<int>(layer_buckets_.size())) {
    for (int b : layer_buckets_[layer]) --buckets_[b].pending_layers;
  }
  while (started_ < static_cast<int>(buckets_.size()) && buckets_[started_].pending_layers <= 0) {
    Launch(started_++);
  }
  stats_.hook_seconds += Now() - t0;
}

Status NcclGradientSync::Wait() {
  const double t0 = Now();
  stats_.steps++;
  while (started_ < static_cast<int>(buckets_.size())) Launch(started_++);
  const std::string where = owner_->where();
  cudaError_t ce = cudaEventRecord(done_, owner_->stream());
  if (ce != cudaSuccess) Keep(CudaError(ce, "cudaEventRecord", where));
  // Poll instead of cudaEventSynchronize so a failed peer (NCCL async
  // error) is noticed and the communicator aborted instead of hanging.
  while (error_.ok()) {
    ce = cudaEventQuery(done_);
    if (ce == cudaSuccess) break;
    if (ce != cudaErrorNotReady) {
      Keep(CudaError(ce, "cudaEventQuery (gradient allreduce)", where));
      break;
    }
    ncclResult_t state = ncclSuccess;
    ncclCommGetAsyncError(owner_->comm(), &state);
    if (state != ncclSuccess && state != ncclInProgress) {
      Keep(NcclError(state, "ncclAllReduce (async)", where, owner_->comm()));
      break;
    }
    std::this_thread::yield();
  }
  if (!error_.ok()) {
    owner_->Abort();
  } else {
    // Later work on the compute stream (optimizer) sees the reduced grads.
    ce = cudaStreamWaitEvent(compute(), done_, 0);
    if (ce != cudaSuccess) Keep(CudaError(ce, "cudaStreamWaitEvent", where));
  }
  stats_.bytes += total_floats_ * static_cast<int64_t>(sizeof(float));
  stats_.wait_seconds += Now() - t0;
  Status out = error_;
  Reset();
  return out;
}

}  // namespace

Result<std::unique_ptr<Communicator>> CreateNcclCommunicator(MPI_Comm base) {
  HPCAI_ASSIGN_OR_RETURN(std::unique_ptr<Communicator> mpi, CreateMpiCommunicator(base));
  // Device selection, agreed before any NCCL call: a rank without a device
  // must not leave its peers waiting in ncclCommInitRank.
  int count = 0;
  cudaError_t ce = cudaGetDeviceCount(&count);
  Status local;
  int device = -1;
  if (ce != cudaSuccess || count <= 0) {
    const char* visible = std::getenv("CUDA_VISIBLE_DEVICES");
    local = Status::FailedPrecondition(
        "no CUDA device visible (" + mpi->where() + ", CUDA_VISIBLE_DEVICES=" +
        (visible ? std::string("\"") + visible + "\"" : std::string("unset")) + "): " +
        (ce != cudaSuccess ? std::string(cudaGetErrorString(ce)) : std::string("0 devices")) +
        " (hint: run on a GPU node, e.g. with --gpus-per-node, or set resources.gpus_per_node: 0)");
  } else {
    device = DeviceLocalRank(mpi->local_rank()) % count;
  }
  HPCAI_RETURN_IF_ERROR(AgreeStatus(*mpi, local));
  auto comm = std::make_unique<NcclCommunicator>(std::move(mpi), device);
  HPCAI_RETURN_IF_ERROR(comm->Init());
  return std::unique_ptr<Communicator>(std::move(comm));
}

}  // namespace hpcai::runtime
