// The MPI communicator under real ranks (ctest runs this binary at np 1, 2, 3).
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <numeric>

#include "hpcai/base/rng.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {
namespace {

std::unique_ptr<Communicator> MakeComm() {
  auto c = CreateCommunicator(CommOptions{});
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? std::move(c).value() : nullptr;
}

TEST(MpiComm, Placement) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  int rank = -1, size = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  EXPECT_STREQ(comm->backend(), "mpi");
  EXPECT_EQ(comm->rank(), rank);
  EXPECT_EQ(comm->size(), size);
  // All test ranks run on this one machine.
  EXPECT_EQ(comm->local_size(), size);
  EXPECT_EQ(comm->local_rank(), rank);
  EXPECT_FALSE(comm->host().empty());
  EXPECT_NE(comm->where().find("rank " + std::to_string(rank)), std::string::npos);
  ASSERT_TRUE(comm->Barrier().ok());
}

TEST(MpiComm, BlockingCollectives) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  const int r = comm->rank(), n = comm->size();
  double d[3] = {1.0, static_cast<double>(r), 0.5};
  ASSERT_TRUE(comm->AllreduceSum(d, 3).ok());
  EXPECT_EQ(d[0], n);
  EXPECT_EQ(d[1], n * (n - 1) / 2.0);
  EXPECT_EQ(d[2], 0.5 * n);
  int64_t i[2] = {r + 1, -r};
  ASSERT_TRUE(comm->AllreduceSum(i, 2).ok());
  EXPECT_EQ(i[0], int64_t{n} * (n + 1) / 2);
  int64_t m[2] = {r, r == n - 1 ? 42 : 0};
  ASSERT_TRUE(comm->AllreduceMax(m, 2).ok());
  EXPECT_EQ(m[0], n - 1);
  EXPECT_EQ(m[1], 42);

  const int root = n - 1;
  std::vector<float> f(1001, static_cast<float>(r));
  ASSERT_TRUE(comm->Broadcast(f.data(), 1001, root).ok());
  for (float v : f) ASSERT_EQ(v, static_cast<float>(root));
  uint64_t u[2] = {static_cast<uint64_t>(r), ~0ull - r};
  ASSERT_TRUE(comm->Broadcast(u, 2, 0).ok());
  EXPECT_EQ(u[0], 0u);
  EXPECT_EQ(u[1], ~0ull);
  std::string s = r == root ? std::string("from root\n\0with nul", 19) : "x";
  ASSERT_TRUE(comm->BroadcastString(&s, root).ok());
  EXPECT_EQ(s, std::string("from root\n\0with nul", 19));

  uint64_t mine[2] = {static_cast<uint64_t>(r), static_cast<uint64_t>(r) * 10};
  std::vector<uint64_t> all(2 * n, 7);
  ASSERT_TRUE(comm->Gather(mine, 2, all.data(), 0).ok());
  if (r == 0) {
    for (int k = 0; k < n; ++k) {
      EXPECT_EQ(all[2 * k], static_cast<uint64_t>(k));
      EXPECT_EQ(all[2 * k + 1], static_cast<uint64_t>(k) * 10);
    }
  } else {
    EXPECT_EQ(all[0], 7u);
  }
}

// Tensors of awkward sizes spread over layers (several per layer, some
// layers without params), with rank-dependent contents.
struct Grads {
  std::vector<std::vector<float>> data;
  std::vector<GradTensor> tensors;
  int num_layers = 0;
};
Grads MakeGrads(const std::vector<int64_t>& sizes, int tensors_per_layer_pattern) {
  Grads g;
  g.data.resize(sizes.size());
  int layer = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    g.data[i].assign(static_cast<size_t>(sizes[i]), 0.f);
    GradTensor t;
    t.name = std::string("t").append(std::to_string(i));
    // Layers 0, 2, 3, 5, ...: every third layer has no params (like relu/pool).
    if (i > 0 && static_cast<int>(i) % tensors_per_layer_pattern == 0) layer += (layer % 3 == 1) ? 2 : 1;
    t.layer = layer;
    t.data = g.data[i].data();
    t.size = sizes[i];
    g.tensors.push_back(t);
  }
  g.num_layers = layer + 1;
  return g;
}

// Integers small enough that every partial sum is exact in float: the
// result must equal the sum over ranks exactly, whatever the reduction order.
void FillExact(Grads* g, int rank, int step) {
  for (size_t i = 0; i < g->data.size(); ++i) {
    for (size_t j = 0; j < g->data[i].size(); ++j) {
      g->data[i][j] = static_cast<float>((rank + 1) * 3 + static_cast<int>((i * 31 + j * 7 + step) % 101));
    }
  }
}
float ExpectedExact(int world, size_t i, size_t j, int step) {
  float s = 0;
  for (int r = 0; r < world; ++r) s += static_cast<float>((r + 1) * 3 + static_cast<int>((i * 31 + j * 7 + step) % 101));
  return s;
}

const std::vector<int64_t> kSizes = {1, 7, 1000, 3, 100003, 13, 5, 4099, 262147, 2, 64, 33};

TEST(MpiGradientSync, SumsUnevenTensorsForManyBucketSizes) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  for (int64_t bucket_bytes : {int64_t{0}, int64_t{4}, int64_t{256}, int64_t{4096}, int64_t{1} << 20}) {
    for (int variant = 0; variant < 4; ++variant) {
      const bool progress = variant != 1;
      const int64_t inplace = variant == 2 ? int64_t{16} << 10 : 0;  // tensors >= 16 KiB unpacked
      Grads g = MakeGrads(kSizes, 2);
      GradientSyncOptions opt;
      opt.bucket_bytes = bucket_bytes;
      opt.progress = progress;
      opt.inplace_bytes = inplace;
      opt.shared_memory = variant == 3;  // variants 0-2: the MPI path
      auto sync = comm->CreateGradientSync(g.tensors, opt);
      ASSERT_TRUE(sync.ok()) << sync.status().ToString();
      EXPECT_STREQ((*sync)->method(), variant == 3 && comm->size() > 1 ? "shm" : "mpi");
      if (bucket_bytes == 4 && variant != 3) {
        EXPECT_EQ((*sync)->num_buckets(), static_cast<int>(kSizes.size()));
      }
      if ((bucket_bytes == 0 && inplace == 0) || (variant == 3 && comm->size() > 1)) {
        EXPECT_EQ((*sync)->num_buckets(), 1);
      }
      for (int step = 0; step < 3; ++step) {
        FillExact(&g, comm->rank(), step);
        for (int l = g.num_layers - 1; l >= 0; --l) (*sync)->OnLayerReady(l);
        ASSERT_TRUE((*sync)->Wait().ok());
        for (size_t i = 0; i < g.data.size(); ++i) {
          for (size_t j = 0; j < g.data[i].size(); ++j) {
            ASSERT_EQ(g.data[i][j], ExpectedExact(comm->size(), i, j, step))
                << "tensor " << i << " elem " << j << " bucket_bytes " << bucket_bytes << " step " << step;
          }
        }
      }
      auto stats = (*sync)->TakeStats();
      EXPECT_EQ(stats.steps, 3);
      if (comm->size() > 1) {
        EXPECT_EQ(stats.bytes, 3 * 4 * std::accumulate(kSizes.begin(), kSizes.end(), int64_t{0}));
      }
    }
  }
}

TEST(MpiGradientSync, MissingOrShuffledHooksStillReduceEverything) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  for (bool shm : {false, true}) {
    SCOPED_TRACE(shm ? "shared memory" : "mpi");
    Grads g = MakeGrads(kSizes, 3);
    GradientSyncOptions opt;
    opt.bucket_bytes = 1024;
    opt.shared_memory = shm;
    auto sync = comm->CreateGradientSync(g.tensors, opt);
    ASSERT_TRUE(sync.ok());
    // Step 0: no hook at all -> Wait launches every bucket.
    // Step 1: hooks in forward order (same on every rank), plus unknown layers.
    for (int step = 0; step < 2; ++step) {
      FillExact(&g, comm->rank(), step);
      if (step == 1) {
        (*sync)->OnLayerReady(-1);
        for (int l = 0; l < g.num_layers + 2; ++l) (*sync)->OnLayerReady(l);
      }
      ASSERT_TRUE((*sync)->Wait().ok());
      for (size_t i = 0; i < g.data.size(); ++i) {
        for (size_t j = 0; j < g.data[i].size(); j += 17) {
          ASSERT_EQ(g.data[i][j], ExpectedExact(comm->size(), i, j, step));
        }
      }
    }
  }
}

// The shared-memory path under skew: ranks arrive at random times, hooks
// fire in different places, and each step's result must still be the exact
// sum (a rank packing step s+1 while a peer still reads step s would show
// here), bitwise identical on every rank.
TEST(MpiGradientSync, SharedMemoryExactUnderSkewAndIdenticalOnAllRanks) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  Grads g = MakeGrads(kSizes, 2);
  GradientSyncOptions opt;
  auto sync = comm->CreateGradientSync(g.tensors, opt);
  ASSERT_TRUE(sync.ok()) << sync.status().ToString();
  EXPECT_STREQ((*sync)->method(), comm->size() > 1 ? "shm" : "mpi");
  Rng skew(MixSeed(7, comm->rank()));
  for (int step = 0; step < 40; ++step) {
    FillExact(&g, comm->rank(), step);
    for (int l = g.num_layers - 1; l >= 0; --l) {
      if (skew.Uniform() < 0.2) usleep(static_cast<useconds_t>(skew.Uniform() * 2000));
      (*sync)->OnLayerReady(l);
    }
    ASSERT_TRUE((*sync)->Wait().ok());
    if (skew.Uniform() < 0.3) usleep(static_cast<useconds_t>(skew.Uniform() * 3000));
    for (size_t i = 0; i < g.data.size(); ++i) {
      for (size_t j = 0; j < g.data[i].size(); j += 5) {
        ASSERT_EQ(g.data[i][j], ExpectedExact(comm->size(), i, j, step)) << "step " << step << " tensor " << i;
      }
    }
  }
  // Random floats (sums not exact): every rank holds the same bits.
  Rng rng(MixSeed(5, comm->rank()));
  for (auto& d : g.data) {
    for (float& v : d) v = rng.Normal();
  }
  ASSERT_TRUE((*sync)->Wait().ok());
  uint64_t h = 1469598103934665603ull;
  for (auto& d : g.data) {
    for (float v : d) {
      uint32_t b;
      std::memcpy(&b, &v, 4);
      h = (h ^ b) * 1099511628211ull;
    }
  }
  uint64_t lo = h, hi = h;
  MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi);
}

TEST(MpiGradientSync, SharedMemoryLimitFallsBackToMpi) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  Grads g = MakeGrads(kSizes, 2);
  GradientSyncOptions opt;
  opt.shared_memory_max_bytes = 1024;  // smaller than these gradients
  auto sync = comm->CreateGradientSync(g.tensors, opt);
  ASSERT_TRUE(sync.ok());
  EXPECT_STREQ((*sync)->method(), "mpi");
  FillExact(&g, comm->rank(), 0);
  ASSERT_TRUE((*sync)->Wait().ok());
  EXPECT_EQ(g.data[4][100], ExpectedExact(comm->size(), 4, 100, 0));
}

// Random floats: overlap (progress on/off, hook timing) must not change a
// single bit, and the bucketed result matches a plain MPI_Allreduce within
// float rounding.
TEST(MpiGradientSync, OverlapDoesNotChangeResults) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  std::vector<std::vector<float>> results;
  for (int variant = 0; variant < 3; ++variant) {
    const bool progress = variant != 0;
    Grads g = MakeGrads(kSizes, 2);
    Rng rng(MixSeed(99, comm->rank()));
    for (auto& d : g.data) {
      for (float& v : d) v = rng.Normal();
    }
    GradientSyncOptions opt;
    opt.bucket_bytes = 64 << 10;
    opt.progress = progress;
    opt.shared_memory = variant == 2;
    auto sync = comm->CreateGradientSync(g.tensors, opt);
    ASSERT_TRUE(sync.ok());
    for (int l = g.num_layers - 1; l >= 0; --l) {
      // Some "backward work" between hooks so progress calls interleave.
      volatile double x = 0;
      for (int k = 0; k < 20000; ++k) x = x + std::sqrt(static_cast<double>(k));
      (*sync)->OnLayerReady(l);
    }
    ASSERT_TRUE((*sync)->Wait().ok());
    std::vector<float> flat;
    for (auto& d : g.data) flat.insert(flat.end(), d.begin(), d.end());
    results.push_back(flat);
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  EXPECT_EQ(0, std::memcmp(results[0].data(), results[1].data(), results[0].size() * sizeof(float)));

  // Reference: plain blocking allreduce of each tensor.
  Grads g = MakeGrads(kSizes, 2);
  Rng rng(MixSeed(99, comm->rank()));
  for (auto& d : g.data) {
    for (float& v : d) v = rng.Normal();
  }
  std::vector<float> ref;
  for (auto& d : g.data) {
    MPI_Allreduce(MPI_IN_PLACE, d.data(), static_cast<int>(d.size()), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    ref.insert(ref.end(), d.begin(), d.end());
  }
  for (size_t k = 0; k < ref.size(); ++k) {
    ASSERT_NEAR(results[1][k], ref[k], 1e-5f * (1.f + std::fabs(ref[k]))) << k;
    ASSERT_NEAR(results[2][k], ref[k], 1e-5f * (1.f + std::fabs(ref[k]))) << "shm " << k;
  }
}

TEST(MpiGradientSync, RejectsEmptyTensors) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  EXPECT_EQ(comm->CreateGradientSync({}, {}).status().code(), Code::kInvalidArgument);
  GradTensor t;
  t.name = "empty";
  auto r = comm->CreateGradientSync({t}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("empty"), std::string::npos);
}

TEST(MpiComm, MpiErrorsBecomeStatusNamingCallHostAndRank) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  uint64_t v = 1, out[8];
  // Root outside the communicator: Open MPI's parameter check rejects it on
  // every rank, so no rank is left inside the collective.
  Status st = comm->Gather(&v, 1, out, comm->size() + 5);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("MPI_Gather"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("rank " + std::to_string(comm->rank())), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(comm->host()), std::string::npos) << st.message();
  // The communicator stays usable.
  ASSERT_TRUE(comm->Barrier().ok());
  Status b = comm->Broadcast(out, 1, -1);
  EXPECT_EQ(b.code(), Code::kInvalidArgument);
}

TEST(MpiComm, SplitMakesIndependentGroups) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  const int r = comm->rank();
  // Rank 0 alone; everyone else together; nobody excluded.
  auto sub = comm->Split(r == 0 ? 0 : 1);
  ASSERT_TRUE(sub.ok()) << sub.status().ToString();
  ASSERT_TRUE(*sub);
  EXPECT_EQ((*sub)->size(), r == 0 ? 1 : comm->size() - 1);
  EXPECT_EQ((*sub)->rank(), r == 0 ? 0 : r - 1);
  int64_t v = 1;
  ASSERT_TRUE((*sub)->AllreduceSum(&v, 1).ok());
  EXPECT_EQ(v, (*sub)->size());
  // Negative color: excluded.
  auto only0 = comm->Split(r == 0 ? 0 : -1);
  ASSERT_TRUE(only0.ok());
  EXPECT_EQ(static_cast<bool>(*only0), r == 0);
}

TEST(AgreeStatus, EveryRankGetsTheLowestFailure) {
  auto comm = MakeComm();
  ASSERT_TRUE(comm);
  const int r = comm->rank(), n = comm->size();
  EXPECT_TRUE(AgreeStatus(*comm, Status::OK()).ok());

  // Only the last rank fails.
  Status local = r == n - 1 ? Status::Corrupt("shard-3.h5: checksum mismatch") : Status::OK();
  Status agreed = AgreeStatus(*comm, local);
  // One rank: its own status, unchanged; several: prefixed with the rank.
  const std::string prefix = n == 1 ? "" : "rank " + std::to_string(n - 1) + ": ";
  EXPECT_EQ(agreed.code(), Code::kCorrupt);
  EXPECT_EQ(agreed.message(), prefix + "shard-3.h5: checksum mismatch");

  // Every rank fails differently: rank 0's failure wins everywhere.
  Status mine = r == 0 ? Status::Numerical("loss is nan at step 3") : Status::NotFound("rank-specific");
  Status all = AgreeStatus(*comm, mine);
  EXPECT_EQ(all.code(), Code::kNumerical);
  EXPECT_EQ(all.message(), (n == 1 ? "" : "rank 0: ") + std::string("loss is nan at step 3"));

  // Agreeing on an agreed status does not stack prefixes.
  EXPECT_EQ(AgreeStatus(*comm, agreed).message(), agreed.message());

  // The same message on every rank (compare via a broadcast of rank 0's view).
  std::string seen = agreed.message();
  std::string root_view = seen;
  ASSERT_TRUE(comm->BroadcastString(&root_view, 0).ok());
  EXPECT_EQ(seen, root_view);
}

}  // namespace
}  // namespace hpcai::runtime
