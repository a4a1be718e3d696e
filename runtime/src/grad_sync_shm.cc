// Node-local gradient sync through one POSIX shared-memory segment
// (GradientSyncOptions::shared_memory).
//
// When every rank runs on one node, MPI's shared-memory transport moves each
// allreduce byte through bounded FIFOs: the ring's reduce-scatter and
// allgather copy every fragment in and out of a shared buffer, and libnbc's
// rounds need the ranks to meet inside MPI calls.  Here the ranks share one
// segment instead and a step costs two barriers:
//
//   OnLayerReady(l)  copy layer l's gradients into my slot (while still hot
//                    in cache from the backward that produced them), except
//                    the part in MY 1/R slice, which only I read
//   Wait()           copy any tensor not copied yet; barrier;
//                    reduce my slice: rank 0 + rank 1 + ... + rank R-1 (my
//                    own values straight from my tensors), written into my
//                    slot for the others and into my tensors; barrier;
//                    copy every other rank's reduced slice into the tensors.
//
// The sum is always taken in rank order 0..R-1 by the one rank that owns the
// slice, and everyone copies that one result: the reduced values are bitwise
// identical on all ranks and independent of timing.  Each slot holds two
// buffers used on alternate steps, so a rank may start packing step s+1
// while a slower peer still copies step s's results out (a third barrier per
// step is not needed: nobody writes buffer s%2 again before every rank has
// passed step s+1's first barrier, i.e. finished reading step s).
//
// The segment is created by rank 0 with shm_open + posix_fallocate (a full
// /dev/shm is an error now, not a SIGBUS later), mapped by every rank and
// unlinked as soon as all have mapped it, so nothing is left behind whatever
// happens to the job.  Teardown is a local munmap: no collective in a
// destructor that an erroring rank could deadlock in.
#include <fcntl.h>
#include <mpi.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "comm_internal.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr int64_t kAlignFloats = 16;  // 64-byte cache lines: slices never share one
constexpr int64_t kPage = 4096;

int64_t RoundUp(int64_t v, int64_t to) { return (v + to - 1) / to * to; }

// For i in [0, n): dst[i] = dst2[i] = src[0][i] + src[1][i] + ... (summed in
// rank order).  A destination may be one of the sources (this rank's own
// gradients): each block is accumulated in a stack buffer first, so aliasing
// does not matter and the inner loops vectorise.  dst2 may be null.
void SumInto(float* dst, float* dst2, const std::vector<const float*>& src, int64_t n) {
  constexpr int64_t kBlock = 1024;
  alignas(64) float acc[kBlock];
  for (int64_t b = 0; b < n; b += kBlock) {
    const int64_t m = std::min(kBlock, n - b);
    const float* s0 = src[0] + b;
    for (int64_t j = 0; j < m; ++j) acc[j] = s0[j];
    for (size_t p = 1; p < src.size(); ++p) {
      const float* sp = src[p] + b;
      for (int64_t j = 0; j < m; ++j) acc[j] += sp[j];
    }
    std::memcpy(dst + b, acc, static_cast<size_t>(m) * sizeof(float));
    if (dst2 != nullptr) std::memcpy(dst2 + b, acc, static_cast<size_t>(m) * sizeof(float));
  }
}

class ShmGradientSync final : public GradientSync {
 public:
  ShmGradientSync(MPI_Comm comm, int rank, int size, std::string where, std::vector<GradTensor> tensors)
      : comm_(comm), rank_(rank), size_(size), where_(std::move(where)), tensors_(std::move(tensors)) {
    plan_ = PlanBuckets(tensors_, /*bucket_bytes=*/0);  // one "bucket": every tensor, one exchange
    offset_.resize(tensors_.size());
    int64_t off = 0;
    for (size_t t = 0; t < tensors_.size(); ++t) {
      offset_[t] = off;
      off += tensors_[t].size;
      const int layer = tensors_[t].layer;
      if (layer >= static_cast<int>(layer_tensors_.size())) layer_tensors_.resize(layer + 1);
      layer_tensors_[layer].push_back(static_cast<int>(t));
    }
    floats_ = off;
    buffer_floats_ = RoundUp(floats_, kAlignFloats);
    slot_bytes_ = RoundUp(2 * buffer_floats_ * static_cast<int64_t>(sizeof(float)), kPage);
    bounds_.resize(size_ + 1);
    for (int p = 0; p <= size_; ++p) {
      bounds_[p] = p == size_ ? floats_ : std::min(floats_, floats_ * p / size_ / kAlignFloats * kAlignFloats);
    }
    packed_.assign(tensors_.size(), 0);
  }

  ~ShmGradientSync() override {
    if (map_ != nullptr) munmap(map_, static_cast<size_t>(map_bytes_));
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized && comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
  }

  // Collective: creates and maps the segment; the same Status on every rank.
  Status Map() {
    map_bytes_ = slot_bytes_ * size_;
    char name[64] = {0};
    std::string local_error;
    int fd = -1;
    if (rank_ == 0) {
      static std::atomic<int> seq{0};
      std::snprintf(name, sizeof(name), "/hpcai-grad-%ld-%d", static_cast<long>(getpid()), seq++);
      fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
      if (fd < 0) {
        local_error = std::string("shm_open(") + name + "): " + std::strerror(errno);
      } else if (int e = posix_fallocate(fd, 0, map_bytes_); e != 0) {
        // tmpfs reserves the pages here, so a full /dev/shm fails now.
        local_error = "reserving " + std::to_string(map_bytes_ >> 10) + " KiB in /dev/shm: " + std::strerror(e);
      }
      if (!local_error.empty()) name[0] = '\0';  // tells the others not to try
    }
    int rc = MPI_Bcast(name, sizeof(name), MPI_CHAR, 0, comm_);
    if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Bcast", where_);
    if (rank_ != 0 && name[0] != '\0') {
      fd = shm_open(name, O_RDWR, 0);
      if (fd < 0) local_error = std::string("shm_open(") + name + "): " + std::strerror(errno);
    }
    if (fd >= 0) {
      void* p = mmap(nullptr, static_cast<size_t>(map_bytes_), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
      if (p == MAP_FAILED) {
        local_error = "mmap of " + std::to_string(map_bytes_ >> 10) + " KiB: " + std::strerror(errno);
      } else {
        map_ = static_cast<char*>(p);
      }
      close(fd);
    }
    int ok = local_error.empty() && (rank_ == 0 || name[0] != '\0') ? 1 : 0;
    rc = MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm_);
    // Everyone has mapped it (or given up): the name is no longer needed.
    if (rank_ == 0 && name[0] != '\0') shm_unlink(name);
    if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Allreduce", where_);
    if (!ok) {
      if (map_ != nullptr) munmap(map_, static_cast<size_t>(map_bytes_));
      map_ = nullptr;
      return Status::Unavailable("shared-memory gradient segment not available on every rank" +
                                 (local_error.empty() ? std::string() : " (here: " + local_error + ")"));
    }
    slots_.resize(size_);
    for (int p = 0; p < size_; ++p) slots_[p] = reinterpret_cast<float*>(map_ + slot_bytes_ * p);
    // First touch of my slot by me (page placement on NUMA nodes).
    std::memset(slots_[rank_], 0, static_cast<size_t>(slot_bytes_));
    return Status::OK();
  }

  const char* method() const override { return "shm"; }
  int num_buckets() const override { return 1; }
  const std::vector<BucketPlan>& plan() const override { return plan_; }
  GradientSyncStats TakeStats() override {
    GradientSyncStats s = stats_;
    stats_ = GradientSyncStats{};
    return s;
  }

  void OnLayerReady(int layer) override {
    if (layer < 0 || layer >= static_cast<int>(layer_tensors_.size())) return;
    const double t0 = Now();
    for (int t : layer_tensors_[layer]) Pack(t);
    stats_.hook_seconds += Now() - t0;
  }

  Status Wait() override {
    stats_.steps++;
    const double t0 = Now();
    for (size_t t = 0; t < tensors_.size(); ++t) Pack(static_cast<int>(t));
    Status st = Fence();
    if (st.ok()) {
      ReduceMySlice();
      st = Fence();
    }
    if (st.ok()) {
      for (size_t t = 0; t < tensors_.size(); ++t) Unpack(static_cast<int>(t));
    }
    std::fill(packed_.begin(), packed_.end(), 0);
    buffer_ ^= 1;
    stats_.bytes += floats_ * static_cast<int64_t>(sizeof(float));
    stats_.wait_seconds += Now() - t0;
    return st;
  }

 private:
  float* Buffer(int p) const { return slots_[p] + buffer_ * buffer_floats_; }

  // Calls fn(part_lo, part_hi, owner) for the parts of tensor t's packed
  // range [offset, offset + size) that fall in each rank's slice.
  template <typename Fn>
  void ForEachPart(int t, Fn&& fn) const {
    const int64_t lo = offset_[t], hi = lo + tensors_[t].size;
    int p = static_cast<int>(std::upper_bound(bounds_.begin(), bounds_.end(), lo) - bounds_.begin()) - 1;
    for (int64_t i = lo; i < hi; ++p) {
      const int64_t end = std::min(hi, bounds_[p + 1]);
      if (end > i) fn(i, end, p);
      i = std::max(i, end);
    }
  }

  // The peers need this rank's values outside its own slice; its own slice is
  // read straight from the tensors when it is reduced.
  void Pack(int t) {
    if (packed_[t]) return;
    packed_[t] = 1;
    const float* data = tensors_[t].data;
    const int64_t base = offset_[t];
    ForEachPart(t, [&](int64_t a, int64_t b, int owner) {
      if (owner != rank_) std::memcpy(Buffer(rank_) + a, data + (a - base), static_cast<size_t>(b - a) * sizeof(float));
    });
  }

  // This rank's slice: the sum over all ranks (its own values from the
  // tensors), into its slot for the peers and into its own tensors.
  void ReduceMySlice() {
    std::vector<const float*> src(size_);
    for (size_t t = 0; t < tensors_.size(); ++t) {
      const int64_t base = offset_[t];
      float* data = tensors_[t].data;
      ForEachPart(static_cast<int>(t), [&](int64_t a, int64_t b, int owner) {
        if (owner != rank_) return;
        for (int p = 0; p < size_; ++p) src[p] = p == rank_ ? data + (a - base) : Buffer(p) + a;
        SumInto(Buffer(rank_) + a, data + (a - base), src, b - a);
      });
    }
  }

  // The other slices' results, from their owners' slots.
  void Unpack(int t) {
    float* data = tensors_[t].data;
    const int64_t base = offset_[t];
    ForEachPart(t, [&](int64_t a, int64_t b, int owner) {
      if (owner != rank_) std::memcpy(data + (a - base), Buffer(owner) + a, static_cast<size_t>(b - a) * sizeof(float));
    });
  }

  // Everything written to the segment before is visible to every rank after.
  Status Fence() {
    std::atomic_thread_fence(std::memory_order_seq_cst);
    const int rc = MPI_Barrier(comm_);
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return rc == MPI_SUCCESS ? Status::OK() : MpiError(rc, "MPI_Barrier (shared-memory gradient sync)", where_);
  }

  MPI_Comm comm_;
  int rank_, size_;
  std::string where_;
  std::vector<GradTensor> tensors_;
  std::vector<BucketPlan> plan_;
  std::vector<int64_t> offset_;                  // tensor -> float offset in a buffer
  std::vector<std::vector<int>> layer_tensors_;  // layer -> tensors
  std::vector<int64_t> bounds_;                  // rank p reduces [bounds_[p], bounds_[p+1])
  std::vector<char> packed_;                     // tensor copied in this step
  int64_t floats_ = 0, buffer_floats_ = 0, slot_bytes_ = 0, map_bytes_ = 0;
  char* map_ = nullptr;
  std::vector<float*> slots_;  // rank p's slot: two buffers of buffer_floats_
  int buffer_ = 0;             // buffer used this step (alternates)
  GradientSyncStats stats_;
};

}  // namespace

Result<std::unique_ptr<GradientSync>> CreateShmGradientSync(MPI_Comm base, std::vector<GradTensor> tensors,
                                                            const std::string& where) {
  MPI_Comm comm = MPI_COMM_NULL;
  const int rc = MPI_Comm_dup(base, &comm);
  if (rc != MPI_SUCCESS) return MpiError(rc, "MPI_Comm_dup", where);
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  auto sync = std::make_unique<ShmGradientSync>(comm, rank, size, where, std::move(tensors));
  HPCAI_RETURN_IF_ERROR(sync->Map());
  return std::unique_ptr<GradientSync>(std::move(sync));
}

}  // namespace hpcai::runtime
