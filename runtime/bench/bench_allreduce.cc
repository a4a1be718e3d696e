// hpcai-bench-allreduce: the communicator's bucketed gradient path vs plain
// MPI_Allreduce, side by side in one run (run by scripts/bench-allreduce.sh
// under mpirun).  Figures follow nccl-tests' definitions:
//   algbw = bytes / time,  busbw = algbw * 2(n-1)/n.
//
// Part 1 (bandwidth): for each size, alternating rounds of
//   mpi      MPI_Allreduce(MPI_IN_PLACE, SUM) on one buffer
//   bucketed GradientSync's MPI path over the same bytes as 4 layers x
//            (weight, bias), default options (4 MiB buckets, tensors >=
//            256 KiB in place), all hooks fired then Wait (packing included)
//   shm      GradientSync's node-local shared-memory path (the default when
//            all ranks share a node), same tensors and hooks
// Part 2 (overlap): a simulated backward (one sgemm per layer, then the hook)
// timed as compute only, communication only, and both, with and without
// MPI_Testall progress from the hook.
#include <cblas.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hpcai/runtime/communicator.h"

namespace {

using hpcai::runtime::Communicator;
using hpcai::runtime::GradientSync;
using hpcai::runtime::GradientSyncOptions;
using hpcai::runtime::GradTensor;

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Slowest rank's time (a collective finishes when the last rank does).
double MaxOverRanks(double t) {
  MPI_Allreduce(MPI_IN_PLACE, &t, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return t;
}

void Die(const hpcai::Status& st) {
  std::fprintf(stderr, "hpcai-bench-allreduce: %s\n", st.ToString().c_str());
  MPI_Abort(MPI_COMM_WORLD, 1);
}

struct Tensors {
  std::vector<std::vector<float>> data;
  std::vector<GradTensor> views;
};
// `count` floats laid out like a 4-layer model: per layer a weight and a
// small bias (1/256 of the layer), so the bucketed path does what it does for
// a real model (biases fused, big weights reduced in place).
Tensors Split(int64_t count, int layers) {
  Tensors t;
  std::vector<std::pair<int, int64_t>> sizes;
  int64_t left = count;
  for (int l = 0; l < layers && left > 0; ++l) {
    int64_t layer = l == layers - 1 ? left : std::max<int64_t>(2, count / layers);
    layer = std::min(layer, left);
    left -= layer;
    const int64_t bias = std::max<int64_t>(1, layer / 256);
    if (layer - bias > 0) sizes.push_back({l, layer - bias});
    sizes.push_back({l, bias});
  }
  t.data.resize(sizes.size());
  for (size_t i = 0; i < sizes.size(); ++i) {
    t.data[i].assign(sizes[i].second, 1.0f);
    GradTensor v;
    v.name = std::string("t").append(std::to_string(i));
    v.layer = sizes[i].first;
    v.data = t.data[i].data();
    v.size = sizes[i].second;
    t.views.push_back(v);
  }
  return t;
}

int Iterations(int64_t bytes) {
  // ~constant bytes per measurement, at least 5 rounds.
  int64_t it = (int64_t{256} << 20) / std::max<int64_t>(bytes, 1);
  return static_cast<int>(std::clamp<int64_t>(it, 5, 2000));
}

void Bandwidth(Communicator& comm, int64_t min_bytes, int64_t max_bytes, int repeats) {
  const int n = comm.size();
  const double bus = n > 1 ? 2.0 * (n - 1) / n : 1.0;
  if (comm.rank() == 0) {
    std::printf("\n## allreduce bandwidth, %d ranks (median of %d; GB/s = 1e9 B/s)\n\n", n, repeats);
    std::printf("| size | mpi time us | mpi algbw | mpi busbw | bucketed time us | bucketed busbw | bucketed/mpi | shm time us | shm busbw | shm/mpi |\n");
    std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  }
  for (int64_t bytes = min_bytes; bytes <= max_bytes; bytes *= 2) {
    const int64_t count = bytes / 4;
    std::vector<float> plain(count, 1.0f);
    Tensors tens = Split(count, 4);
    GradientSyncOptions opt;  // defaults: 4 MiB buckets, progress on
    opt.shared_memory = false;
    auto sync_r = comm.CreateGradientSync(tens.views, opt);
    if (!sync_r.ok()) Die(sync_r.status());
    GradientSync& sync = **sync_r;
    GradientSyncOptions shm_opt;  // the shm path at every size (its default limit is the crossover)
    shm_opt.shared_memory_max_bytes = INT64_MAX;
    auto shm_r = comm.CreateGradientSync(tens.views, shm_opt);
    if (!shm_r.ok()) Die(shm_r.status());
    GradientSync& shm = **shm_r;
    const int iters = Iterations(bytes);
    std::vector<double> t_mpi, t_sync, t_shm;
    for (int rep = 0; rep < repeats + 1; ++rep) {  // first round = warm-up
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = Now();
      for (int i = 0; i < iters; ++i) {
        MPI_Allreduce(MPI_IN_PLACE, plain.data(), static_cast<int>(count), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
      }
      double a = MaxOverRanks((Now() - t0) / iters);
      auto timed = [&](GradientSync& gs) {  // all hooks, then Wait; slowest rank's time
        MPI_Barrier(MPI_COMM_WORLD);
        const double start = Now();
        for (int i = 0; i < iters; ++i) {
          for (int l = 3; l >= 0; --l) gs.OnLayerReady(l);
          hpcai::Status st = gs.Wait();
          if (!st.ok()) Die(st);
        }
        return MaxOverRanks((Now() - start) / iters);
      };
      const double b = timed(sync), c = timed(shm);
      if (rep > 0) {
        t_mpi.push_back(a);
        t_sync.push_back(b);
        t_shm.push_back(c);
      }
      // Keep values bounded (sums of 1.0 grow by n each round).
      std::fill(plain.begin(), plain.end(), 1.0f);
      for (auto& d : tens.data) std::fill(d.begin(), d.end(), 1.0f);
    }
    std::sort(t_mpi.begin(), t_mpi.end());
    std::sort(t_sync.begin(), t_sync.end());
    std::sort(t_shm.begin(), t_shm.end());
    const double ta = t_mpi[t_mpi.size() / 2], tb = t_sync[t_sync.size() / 2], tc = t_shm[t_shm.size() / 2];
    if (comm.rank() == 0) {
      const double aa = bytes / ta / 1e9, ab = bytes / tb / 1e9, ac = bytes / tc / 1e9;
      std::string size = bytes >= (1 << 20) ? std::to_string(bytes >> 20) + " MiB"
                                             : std::to_string(bytes >> 10) + " KiB";
      std::printf("| %s | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f |\n", size.c_str(), ta * 1e6,
                  aa, aa * bus, tb * 1e6, ab * bus, ab / aa, tc * 1e6, ac * bus, ac / aa);
      std::fflush(stdout);
    }
  }
}

// One sgemm of (m x k) * (k x nn) per layer as the "backward" of that layer.
struct Work {
  int m, k, nn;
  std::vector<float> a, b, c;
};

void Overlap(Communicator& comm, int layers, int64_t layer_floats, int gemm, int repeats) {
  std::vector<Work> work(layers);
  for (Work& w : work) {
    w.m = w.k = w.nn = gemm;
    w.a.assign(static_cast<size_t>(gemm) * gemm, 0.01f);
    w.b.assign(static_cast<size_t>(gemm) * gemm, 0.02f);
    w.c.assign(static_cast<size_t>(gemm) * gemm, 0.f);
  }
  Tensors tens;
  tens.data.resize(layers);
  for (int l = 0; l < layers; ++l) {
    tens.data[l].assign(layer_floats, 1.0f);
    GradTensor v;
    v.name = std::string("layer").append(std::to_string(l));
    v.layer = l;
    v.data = tens.data[l].data();
    v.size = layer_floats;
    tens.views.push_back(v);
  }
  auto backward = [&](GradientSync* sync) {
    for (int l = layers - 1; l >= 0; --l) {
      Work& w = work[l];
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, w.m, w.nn, w.k, 1.0f, w.a.data(), w.k,
                  w.b.data(), w.nn, 0.0f, w.c.data(), w.nn);
      if (sync) sync->OnLayerReady(l);
    }
    if (sync) {
      hpcai::Status st = sync->Wait();
      if (!st.ok()) Die(st);
    }
  };
  GradientSyncOptions on, off;
  on.bucket_bytes = off.bucket_bytes = layer_floats * 4;  // one bucket per layer
  off.progress = false;
  on.shared_memory = off.shared_memory = false;  // the MPI path's progress is what is measured
  GradientSyncOptions shm_opt;
  shm_opt.shared_memory_max_bytes = INT64_MAX;
  auto s_shm = comm.CreateGradientSync(tens.views, shm_opt);
  if (!s_shm.ok()) Die(s_shm.status());
  auto s_on = comm.CreateGradientSync(tens.views, on);
  auto s_off = comm.CreateGradientSync(tens.views, off);
  if (!s_on.ok()) Die(s_on.status());
  if (!s_off.ok()) Die(s_off.status());
  auto comm_only = [&] {
    for (int l = layers - 1; l >= 0; --l) (*s_on)->OnLayerReady(l);
    hpcai::Status st = (*s_on)->Wait();
    if (!st.ok()) Die(st);
  };
  const int iters = 10;
  auto time = [&](auto&& fn) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = Now();
    for (int i = 0; i < iters; ++i) fn();
    return MaxOverRanks((Now() - t0) / iters);
  };
  std::vector<double> tc, tm, ton, toff, tshm;
  for (int rep = 0; rep < repeats + 1; ++rep) {
    double c = time([&] { backward(nullptr); });
    double m = time(comm_only);
    double a = time([&] { backward(s_on->get()); });
    double b = time([&] { backward(s_off->get()); });
    double d = time([&] { backward(s_shm->get()); });
    if (rep == 0) continue;
    tshm.push_back(d);
    tc.push_back(c);
    tm.push_back(m);
    ton.push_back(a);
    toff.push_back(b);
    for (auto& d : tens.data) std::fill(d.begin(), d.end(), 1.0f);
  }
  auto med = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double c = med(tc), m = med(tm), a = med(ton), b = med(toff), d = med(tshm);
  // Fraction of the communication hidden behind compute: (c + m - t) / min(c, m).
  auto hidden = [&](double t) { return std::clamp((c + m - t) / std::min(c, m), -1.0, 1.0); };
  if (comm.rank() == 0) {
    std::printf("\n## overlap: %d layers, %lld floats (%.1f MiB) per layer, sgemm %d^3 per layer, %d ranks (median of %d)\n\n",
                layers, static_cast<long long>(layer_floats), layer_floats * 4.0 / (1 << 20), gemm, comm.size(), repeats);
    std::printf("| measurement | ms per step |\n|---|---:|\n");
    std::printf("| compute only (backward sgemms) | %.2f |\n", c * 1e3);
    std::printf("| communication only (bucketed allreduce) | %.2f |\n", m * 1e3);
    std::printf("| compute + comm, MPI_Testall progress from hooks | %.2f (hidden %.0f%%) |\n", a * 1e3, hidden(a) * 100);
    std::printf("| compute + comm, no progress (allreduce runs in Wait) | %.2f (hidden %.0f%%) |\n", b * 1e3, hidden(b) * 100);
    std::printf("| compute + comm, shared-memory path (%s) | %.2f |\n", (*s_shm)->method(), d * 1e3);
    std::printf("| ideal max(compute, comm) | %.2f |\n", std::max(c, m) * 1e3);
    std::fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  hpcai::runtime::PrepareMpiEnvironment();
  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int64_t min_bytes = 4 << 10, max_bytes = int64_t{64} << 20;
  int repeats = 5;
  bool overlap = true, bandwidth = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--min-bytes" && i + 1 < argc) min_bytes = std::atoll(argv[++i]);
    else if (a == "--max-bytes" && i + 1 < argc) max_bytes = std::atoll(argv[++i]);
    else if (a == "--repeats" && i + 1 < argc) repeats = std::max(1, std::atoi(argv[++i]));
    else if (a == "--no-overlap") overlap = false;
    else if (a == "--no-bandwidth") bandwidth = false;
    else {
      std::fprintf(stderr, "usage: hpcai-bench-allreduce [--min-bytes B] [--max-bytes B] [--repeats N] [--no-overlap] [--no-bandwidth]\n");
      MPI_Finalize();
      return 2;
    }
  }
  openblas_set_num_threads(1);
  {
    auto comm = hpcai::runtime::CreateCommunicator({});
    if (!comm.ok()) Die(comm.status());
    if (bandwidth) Bandwidth(**comm, min_bytes, max_bytes, repeats);
    if (overlap) Overlap(**comm, 4, 1 << 20, 384, repeats);
  }
  MPI_Finalize();
  return 0;
}
