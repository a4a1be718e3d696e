// MPI communicator: the fallback backend, and the one used on CPUs.
//
// Works on a private duplicate of MPI_COMM_WORLD with MPI_ERRORS_RETURN, so
// an MPI failure becomes a Status (naming call, host and rank) instead of
// Open MPI's default abort, and so our collectives never match messages of
// other code (HDF5's MPI-IO uses its own communicators).
#include <mpi.h>

#include <chrono>
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "comm_internal.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// MPI counts are int: longer buffers go in chunks of kMaxCount elements.
constexpr int64_t kMaxCount = int64_t{1} << 30;

class MpiGradientSync;

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator(MPI_Comm comm, int rank, int size, int local_rank, int local_size)
      : comm_(comm), rank_(rank), size_(size), local_rank_(local_rank), local_size_(local_size),
        host_(NodeName()) {}
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  const char* backend() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }
  int local_size() const override { return local_size_; }
  const std::string& host() const override { return host_; }
  MPI_Comm comm() const { return comm_; }

  Status Check(int rc, const char* call) const {
    if (rc == MPI_SUCCESS) return Status::OK();
    return MpiError(rc, call, where());
  }

  Status Barrier() override { return Check(MPI_Barrier(comm_), "MPI_Barrier"); }

  template <typename T>
  Status BcastChunks(T* data, int64_t n, MPI_Datatype type, int root) {
    if (root < 0 || root >= size_) {
      return Status::InvalidArgument("Broadcast root " + std::to_string(root) + " is not a rank of " +
                                     std::to_string(size_) + " (" + where() + ")");
    }
    for (int64_t off = 0; off < n; off += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, n - off));
      HPCAI_RETURN_IF_ERROR(Check(MPI_Bcast(data + off, count, type, root, comm_), "MPI_Bcast"));
    }
    return Status::OK();
  }
  Status Broadcast(float* data, int64_t n, int root) override {
    return BcastChunks(data, n, MPI_FLOAT, root);
  }
  Status Broadcast(uint64_t* data, int64_t n, int root) override {
    return BcastChunks(data, n, MPI_UINT64_T, root);
  }
  Status BroadcastString(std::string* data, int root) override {
    uint64_t len = rank_ == root ? data->size() : 0;
    HPCAI_RETURN_IF_ERROR(BcastChunks(&len, 1, MPI_UINT64_T, root));
    if (rank_ != root) data->assign(len, '\0');
    return BcastChunks(data->data(), static_cast<int64_t>(len), MPI_CHAR, root);
  }

  template <typename T>
  Status AllreduceChunks(T* data, int64_t n, MPI_Datatype type, MPI_Op op) {
    for (int64_t off = 0; off < n; off += kMaxCount) {
      const int count = static_cast<int>(std::min(kMaxCount, n - off));
      HPCAI_RETURN_IF_ERROR(
          Check(MPI_Allreduce(MPI_IN_PLACE, data + off, count, type, op, comm_), "MPI_Allreduce"));
    }
    return Status::OK();
  }
  Status AllreduceSum(double* data, int64_t n) override {
    return AllreduceChunks(data, n, MPI_DOUBLE, MPI_SUM);
  }
  Status AllreduceSum(int64_t* data, int64_t n) override {
    return AllreduceChunks(data, n, MPI_INT64_T, MPI_SUM);
  }
  Status AllreduceMax(int64_t* data, int64_t n) override {
    return AllreduceChunks(data, n, MPI_INT64_T, MPI_MAX);
  }
  Status Gather(const uint64_t* data, int64_t n, uint64_t* out, int root) override {
    if (n > INT_MAX) return Status::InvalidArgument("Gather of more than INT_MAX elements per rank");
    return Check(MPI_Gather(data, static_cast<int>(n), MPI_UINT64_T, out, static_cast<int>(n),
                            MPI_UINT64_T, root, comm_),
                 "MPI_Gather");
  }

  Result<std::unique_ptr<GradientSync>> CreateGradientSync(
      std::vector<GradTensor> tensors, const GradientSyncOptions& options) override;

  Result<std::unique_ptr<Communicator>> Split(int color) override {
    MPI_Comm sub = MPI_COMM_NULL;
    HPCAI_RETURN_IF_ERROR(
        Check(MPI_Comm_split(comm_, color < 0 ? MPI_UNDEFINED : color, rank_, &sub), "MPI_Comm_split"));
    if (sub == MPI_COMM_NULL) return std::unique_ptr<Communicator>();
    auto out = CreateMpiCommunicator(sub);
    MPI_Comm_free(&sub);  // CreateMpiCommunicator works on its own duplicate
    return out;
  }

 private:
  MPI_Comm comm_;
  int rank_, size_, local_rank_, local_size_;
  std::string host_;
};

// One bucket: either a single tensor reduced in place, or several tensors
// packed into `buffer` (one collective instead of many small ones).
struct Bucket {
  BucketPlan plan;
  std::vector<float> buffer;  // empty when the bucket is one tensor
  float* data = nullptr;      // what the collective runs on
  int pending_layers = 0;     // layers not yet reported ready this step
};

class MpiGradientSync final : public GradientSync {
 public:
  MpiGradientSync(const MpiCommunicator* comm, std::vector<GradTensor> tensors,
                  const GradientSyncOptions& options)
      : comm_(comm), tensors_(std::move(tensors)), options_(options) {
    plan_ = PlanBuckets(tensors_, options_.bucket_bytes, options_.inplace_bytes);
    buckets_.resize(plan_.size());
    for (size_t b = 0; b < plan_.size(); ++b) {
      Bucket& k = buckets_[b];
      k.plan = plan_[b];
      if (k.plan.tensors.size() == 1) {
        k.data = tensors_[k.plan.tensors[0]].data;
      } else {
        k.buffer.resize(static_cast<size_t>(k.plan.floats));
        k.data = k.buffer.data();
      }
      for (int layer : k.plan.layers) {
        if (layer >= static_cast<int>(layer_buckets_.size())) layer_buckets_.resize(layer + 1);
        layer_buckets_[layer].push_back(static_cast<int>(b));
      }
      total_floats_ += k.plan.floats;
    }
    min_layer_ = tensors_.empty() ? 0 : tensors_[0].layer;
    for (const GradTensor& t : tensors_) min_layer_ = std::min(min_layer_, t.layer);
    requests_.assign(buckets_.size(), MPI_REQUEST_NULL);
    Reset();
  }

  ~MpiGradientSync() override {
    // Never leave a request behind (e.g. after an error): wait for them.
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && started_ > 0) MPI_Waitall(started_, requests_.data(), MPI_STATUSES_IGNORE);
  }

  void OnLayerReady(int layer) override {
    if (comm_->size() == 1) return;  // nothing to reduce; keep the hook free
    const double t0 = Now();
    if (layer >= 0 && layer < static_cast<int>(layer_buckets_.size())) {
      for (int b : layer_buckets_[layer]) --buckets_[b].pending_layers;
    }
    // The lowest layer's hook is the last one: backward is over, nothing is
    // left to overlap with, so buckets it completes are reduced in Wait()
    // with the blocking MPI_Allreduce (faster than the non-blocking one).
    while (layer != min_layer_ && started_ < static_cast<int>(buckets_.size()) &&
           buckets_[started_].pending_layers <= 0) {
      Launch(started_++);
    }
    if (options_.progress && started_ > 0 && error_.ok()) {
      int flag = 0;
      Keep(comm_->Check(MPI_Testall(started_, requests_.data(), &flag, MPI_STATUSES_IGNORE),
                        "MPI_Testall"));
    }
    stats_.hook_seconds += Now() - t0;
  }

  Status Wait() override {
    stats_.steps++;
    if (comm_->size() == 1) return Status::OK();
    const double t0 = Now();
    // In-flight buckets first, then the rest in plan order with the blocking
    // collective: every rank issues the same sequence.
    Keep(comm_->Check(MPI_Waitall(started_, requests_.data(), MPI_STATUSES_IGNORE), "MPI_Waitall"));
    for (int b = started_; b < static_cast<int>(buckets_.size()); ++b) {
      Bucket& k = buckets_[b];
      Pack(k);
      Keep(comm_->Check(MPI_Allreduce(MPI_IN_PLACE, k.data, static_cast<int>(k.plan.floats), MPI_FLOAT, MPI_SUM,
                                      comm_->comm()),
                        "MPI_Allreduce"));
    }
    started_ = 0;  // every request is complete (or MPI_REQUEST_NULL)
    if (error_.ok()) {
      for (Bucket& k : buckets_) {
        if (k.buffer.empty()) continue;
        int64_t off = 0;
        for (int t : k.plan.tensors) {
          std::memcpy(tensors_[t].data, k.buffer.data() + off, tensors_[t].size * sizeof(float));
          off += tensors_[t].size;
        }
      }
    }
    stats_.bytes += total_floats_ * static_cast<int64_t>(sizeof(float));
    stats_.wait_seconds += Now() - t0;
    Status out = error_;
    Reset();
    return out;
  }

  const char* method() const override { return "mpi"; }
  int num_buckets() const override { return static_cast<int>(buckets_.size()); }
  const std::vector<BucketPlan>& plan() const override { return plan_; }
  GradientSyncStats TakeStats() override {
    GradientSyncStats s = stats_;
    stats_ = GradientSyncStats{};
    return s;
  }

 private:
  void Keep(const Status& s) {
    if (error_.ok() && !s.ok()) error_ = s;
  }
  void Reset() {
    error_ = Status::OK();
    for (Bucket& k : buckets_) k.pending_layers = static_cast<int>(k.plan.layers.size());
  }
  void Pack(Bucket& k) {
    if (k.buffer.empty()) return;
    int64_t off = 0;
    for (int t : k.plan.tensors) {
      std::memcpy(k.buffer.data() + off, tensors_[t].data, tensors_[t].size * sizeof(float));
      off += tensors_[t].size;
    }
  }
  void Launch(int b) {
    Bucket& k = buckets_[b];
    Pack(k);
    // Even after an earlier error every bucket is launched: the other ranks
    // issue the same collectives, and skipping one would mismatch them.
    Keep(comm_->Check(MPI_Iallreduce(MPI_IN_PLACE, k.data, static_cast<int>(k.plan.floats), MPI_FLOAT,
                                     MPI_SUM, comm_->comm(), &requests_[b]),
                      "MPI_Iallreduce"));
  }

  const MpiCommunicator* comm_;
  std::vector<GradTensor> tensors_;
  GradientSyncOptions options_;
  std::vector<BucketPlan> plan_;
  std::vector<Bucket> buckets_;
  std::vector<std::vector<int>> layer_buckets_;  // layer -> buckets containing it
  std::vector<MPI_Request> requests_;
  int started_ = 0;  // buckets [0, started_) are launched this step
  int min_layer_ = 0;  // the last hook of a backward pass
  int64_t total_floats_ = 0;
  Status error_;
  GradientSyncStats stats_;
};

Result<std::unique_ptr<GradientSync>> MpiCommunicator::CreateGradientSync(
    std::vector<GradTensor> tensors, const GradientSyncOptions& options) {
  if (tensors.empty()) return Status::InvalidArgument("CreateGradientSync: no gradient tensors");
  for (const GradTensor& t : tensors) {
    if (t.size <= 0 || t.data == nullptr) {
      return Status::InvalidArgument("CreateGradientSync: tensor '" + t.name + "' is empty");
    }
    if (t.layer < 0) {
      return Status::InvalidArgument("CreateGradientSync: tensor '" + t.name + "' has layer " +
                                     std::to_string(t.layer) + " (expected >= 0)");
    }
  }
  int64_t bytes = 0;
  for (const GradTensor& t : tensors) bytes += t.size * static_cast<int64_t>(sizeof(float));
  // The decision depends only on values equal on every rank (sizes, options,
  // placement), so all ranks take the same branch.
  if (options.shared_memory && size_ > 1 && local_size_ == size_ && bytes <= options.shared_memory_max_bytes) {
    auto shm = CreateShmGradientSync(comm_, tensors, where());
    if (shm.ok() || shm.status().code() != Code::kUnavailable) return shm;
    if (rank_ == 0) {
      std::fprintf(stderr, "hpcai: note: %s; gradients are reduced with MPI instead\n",
                   shm.status().message().c_str());
    }
  }
  auto sync = std::make_unique<MpiGradientSync>(this, std::move(tensors), options);
  for (const BucketPlan& b : sync->plan()) {
    if (b.floats > INT_MAX) {
      return Status::InvalidArgument("CreateGradientSync: a bucket of " + std::to_string(b.floats) +
                                     " floats exceeds MPI's int count; lower bucket_bytes");
    }
  }
  return std::unique_ptr<GradientSync>(std::move(sync));
}

}  // namespace

Status MpiError(int rc, const char* call, const std::string& where) {
  char text[MPI_MAX_ERROR_STRING] = {0};
  int len = 0;
  if (MPI_Error_string(rc, text, &len) != MPI_SUCCESS) std::snprintf(text, sizeof(text), "error %d", rc);
  return Status::IOError(std::string(call) + " failed (" + where + "): " + text +
                         " (hint: a peer rank may have died; see the other ranks' logs)");
}

void PrepareMpiEnvironment() {
  setenv("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1", /*overwrite=*/0);
  // A rank waiting for its peers yields the core instead of spinning: when a
  // core is shared (the reader's prefetch thread, other jobs, an
  // oversubscribed node) spinning steals the time the peer or the prefetch
  // thread needs.  Measured under contention: 2-rank MLP 16.7k -> 21.8k
  // samples/s (docs/runtime.md); on a dedicated core sched_yield returns at once.
  setenv("OMPI_MCA_mpi_yield_when_idle", "1", /*overwrite=*/0);
}

Result<std::unique_ptr<Communicator>> CreateMpiCommunicator(MPI_Comm base) {
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (!initialized || finalized) {
    return Status::FailedPrecondition("CreateMpiCommunicator: MPI is not initialised (call MPI_Init_thread first)");
  }
  const std::string host = NodeName();
  MPI_Comm comm = MPI_COMM_NULL;
  int rc = MPI_Comm_dup(base, &comm);
  if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Comm_dup", "host " + host);
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  MPI_Comm node = MPI_COMM_NULL;
  int local_rank = 0, local_size = 1;
  rc = MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &node);
  if (rc != MPI_SUCCESS) {
    MPI_Comm_free(&comm);
    return MpiError(rc, "MPI_Comm_split_type", "host " + host + ", rank " + std::to_string(rank));
  }
  MPI_Comm_rank(node, &local_rank);
  MPI_Comm_size(node, &local_size);
  MPI_Comm_free(&node);
  return std::unique_ptr<Communicator>(
      std::make_unique<MpiCommunicator>(comm, rank, size, local_rank, local_size));
}

}  // namespace hpcai::runtime
