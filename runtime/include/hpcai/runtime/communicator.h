// Communicator: the collective operations hpcai-train needs, behind one
// interface (MPI now; NCCL in CUDA builds).  Backends are chosen in ONE place,
// runtime/src/comm_registry.cc, from an ordered list whose first enabled
// entry wins (horovod style), so MPI is the fallback when NCCL is absent.
//
// Rules for every collective below: EVERY rank of the communicator must call
// it, in the same order, with matching sizes.  Calls are made from the one
// thread that initialised MPI (MPI_THREAD_FUNNELED); no method is thread-safe.
// Failures come back as a Status naming the call, host and rank; they never
// abort the process.  A failure on one rank is NOT automatically seen by the
// others: use AgreeStatus() at decision points so no rank is left waiting in
// a collective.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "hpcai/base/status.h"

namespace hpcai::runtime {

struct Param;  // model.h

// One gradient tensor to synchronise: `size` floats at `data` (host memory
// for MPI, device memory for NCCL), owned by the caller and valid (same
// address) for the lifetime of the GradientSync that uses it.
struct GradTensor {
  std::string name;
  int layer = 0;        // the model layer whose backward produces it
  float* data = nullptr;
  int64_t size = 0;
};

// GradTensors of a model's params, in the model's (forward) order.
std::vector<GradTensor> GradTensorsOf(const std::vector<Param*>& params);

// A group of tensors reduced with one collective.  Buckets are formed in
// REVERSE tensor order (backward produces the last layers first), each
// holding consecutive tensors until it reaches `bucket_bytes`; a tensor is
// never split, so a tensor larger than bucket_bytes is a bucket on its own.
// A tensor of at least `inplace_bytes` also gets a bucket of its own: it is
// reduced in place, because packing it into a bucket buffer and back costs
// more memory traffic than the latency of one more collective (tensor fusion
// pays off for the many small tensors, e.g. biases).
struct BucketPlan {
  std::vector<int> tensors;  // indices into the GradTensor list, in bucket order
  std::vector<int> layers;   // distinct layers of those tensors
  int64_t floats = 0;        // total elements
};
// Pure function (unit-tested): the buckets, in the order they are launched.
// bucket_bytes <= 0 puts every tensor in one bucket; inplace_bytes <= 0
// disables the in-place rule.
std::vector<BucketPlan> PlanBuckets(const std::vector<GradTensor>& tensors, int64_t bucket_bytes,
                                    int64_t inplace_bytes = 0);

struct GradientSyncOptions {
  int64_t bucket_bytes = int64_t{4} << 20;  // ~4 MiB per collective
  int64_t inplace_bytes = int64_t{256} << 10;  // tensors this big are not packed
  // Drive outstanding non-blocking collectives (MPI_Testall) from every
  // OnLayerReady.  Open MPI's libnbc only progresses inside MPI calls, so
  // without this the allreduce mostly runs in Wait() and nothing overlaps.
  // Off only for benchmarks that measure exactly that.
  bool progress = true;
  // MPI only: when every rank of the communicator runs on one node, reduce
  // through one POSIX shared-memory segment (each rank copies its gradients
  // in, reduces its 1/R slice of all ranks' copies, copies every slice out)
  // instead of MPI messages, which on shared-memory transports copy each byte
  // through bounded FIFOs several times (docs/runtime.md has the figures).
  // Falls back to the bucketed MPI path, agreed by all ranks, when ranks span
  // nodes, the gradients exceed `shared_memory_max_bytes`, or the segment
  // cannot be created (e.g. /dev/shm full).  HPCAI_GRAD_SYNC=mpi in the
  // environment turns it off in hpcai-train (for A/B measurements).
  // The limit keeps the segment (2 x gradient bytes per rank of the node) well
  // inside a container's default 64 MiB /dev/shm; up to it the path measured
  // faster than MPI_Allreduce at every size (scripts/bench-allreduce.sh,
  // 2 ranks, docs/runtime.md).
  bool shared_memory = true;
  int64_t shared_memory_max_bytes = int64_t{8} << 20;
  // NCCL only: the cudaStream_t (as void*) the backward pass runs on.  Each
  // bucket's allreduce is ordered after that stream's work at OnLayerReady
  // (CUDA events), and Wait() orders this stream after the reductions.
  // nullptr = the legacy default stream.  Ignored by MPI.
  void* cuda_stream = nullptr;
};

// Timing of the gradient synchronisation since the last TakeStats().
struct GradientSyncStats {
  int64_t steps = 0;          // Wait() calls
  int64_t bytes = 0;          // bytes reduced (per rank, per call summed)
  double hook_seconds = 0;    // inside OnLayerReady: packing + launching + progress
  double wait_seconds = 0;    // blocked in Wait() (communication NOT hidden by backward)
};

// Bucketed, overlapped gradient allreduce (SUM).  Use per step:
//   model.ForwardBackward(..., [&](int l) { sync->OnLayerReady(l); });
//   HPCAI_RETURN_IF_ERROR(sync->Wait());   // grads now hold the global sum
// Models scale grads by 1/global_batch, so the SUM is the global mean.
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  // Marks `layer`'s gradients final; starts the collective of every bucket
  // whose layers are all ready (buckets start strictly in plan order, so all
  // ranks issue them in the same order) and progresses those in flight.
  // Cannot fail visibly: the first error is kept and returned by Wait().
  // Every rank must report the same layers in the same order.
  virtual void OnLayerReady(int layer) = 0;
  // Starts any bucket not started yet, waits for all of them and leaves the
  // reduced values in the tensors.  Resets for the next step.  Every rank.
  // (MPI: buckets completed by the lowest layer's hook, the last one of a
  // backward pass, are reduced here with the blocking MPI_Allreduce: nothing
  // is left to overlap with, and it is faster than the non-blocking one.)
  virtual Status Wait() = 0;
  // How the gradients travel: "shm" (node-local shared memory), "mpi"
  // (bucketed MPI_Iallreduce) or "nccl".
  virtual const char* method() const = 0;
  virtual int num_buckets() const = 0;
  virtual const std::vector<BucketPlan>& plan() const = 0;
  virtual GradientSyncStats TakeStats() = 0;
};

class Communicator {
 public:
  virtual ~Communicator() = default;

  virtual const char* backend() const = 0;  // "mpi" | "nccl"
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Rank among the processes on this node (MPI_COMM_TYPE_SHARED) and their count.
  virtual int local_rank() const = 0;
  virtual int local_size() const = 0;
  // Node name for messages: SLURMD_NODENAME when set, else the host name.
  virtual const std::string& host() const = 0;
  // "host n1, rank 1 of 2": appended to every error this communicator returns.
  std::string where() const;

  virtual Status Barrier() = 0;
  // Root's n floats are copied to every rank.
  virtual Status Broadcast(float* data, int64_t n, int root) = 0;
  virtual Status Broadcast(uint64_t* data, int64_t n, int root) = 0;
  // Root's string (any length) replaces *data on every rank.
  virtual Status BroadcastString(std::string* data, int root) = 0;
  // Blocking element-wise sums / max in place (scalars, flags, metrics).
  virtual Status AllreduceSum(double* data, int64_t n) = 0;
  virtual Status AllreduceSum(int64_t* data, int64_t n) = 0;
  virtual Status AllreduceMax(int64_t* data, int64_t n) = 0;
  // Gathers n uint64 from every rank to root: out (size*n) on root, untouched elsewhere.
  virtual Status Gather(const uint64_t* data, int64_t n, uint64_t* out, int root) = 0;

  // A new communicator over the ranks that pass the same `color` (>= 0),
  // ordered by their rank here; ranks passing a negative color get nullptr.
  // Same backend for MPI; the NCCL backend splits its MPI part only (host
  // collectives).  Collective over this communicator.
  virtual Result<std::unique_ptr<Communicator>> Split(int color) = 0;

  // A bucketed gradient synchroniser over `tensors` (see GradientSync).
  // InvalidArgument for empty or null tensors.  Collective: every rank calls
  // it with the same tensor list (names/sizes) and options.
  virtual Result<std::unique_ptr<GradientSync>> CreateGradientSync(
      std::vector<GradTensor> tensors, const GradientSyncOptions& options) = 0;
};

// Every rank passes its local outcome; every rank returns the SAME Status:
// OK when all were OK, else the failure of the lowest failing rank (its code,
// message prefixed with "rank R: "; a single rank gets its own Status back
// unchanged).  Collective; cheap (one allreduce, and a
// broadcast only on failure).  If the agreement itself fails the local
// communication error is returned.  The protocol is io::AgreeStatus's
// (hpcai/io/parallel.h) over this communicator's AllreduceMax/BroadcastString.
Status AgreeStatus(Communicator& comm, const Status& local);

// Call once per process BEFORE MPI_Init_thread (hpcai-train, benchmarks).
// Sets MPI library knobs the gradient path depends on, only where the user
// has not set them: Open MPI's libnbc chooses a binomial-tree MPI_Iallreduce
// for fewer than 4 ranks and for MPI_IN_PLACE, at about half the bandwidth of
// its ring (docs/runtime.md has the measurement), so the ring is selected
// with OMPI_MCA_coll_libnbc_iallreduce_algorithm=1; waiting ranks yield the
// core (OMPI_MCA_mpi_yield_when_idle=1).  Harmless for other MPIs.
void PrepareMpiEnvironment();

// ---- backend registry (comm_registry.cc) ------------------------------------

struct CommOptions {
  // Ask for a device-memory communicator (NCCL).  The MPI communicator is
  // used when false or when this build has no NCCL.
  bool gpu = false;
};

// The backends this build has, in preference order, e.g. {"nccl", "mpi"}.
std::vector<std::string> CommBackendsBuilt();

// Creates the first enabled backend for `options` over all processes of the
// job.  Requires MPI to be initialised (MPI_Init_thread, at least FUNNELED)
// and not finalised; the communicator must be destroyed before MPI_Finalize.
// Collective over MPI_COMM_WORLD.
Result<std::unique_ptr<Communicator>> CreateCommunicator(const CommOptions& options);

}  // namespace hpcai::runtime
