// hpcai_bench_step: time of one training step (forward + backward + SGD
// momentum update) of hpcai's MLP or CNN on random in-memory data, and, for
// the MLP, the bare cblas_sgemm calls of the same shapes in the same process.
//
//   hpcai_bench_step --what hpcai|gemm|gemm-sharded --model mlp|cnn
//                    --threads T --batch B --steps N --reps R [--backend cpu|cuda]
// (--backend cuda: the step on a GPU, for docs/gpu.md's checklist; fails with
// one line when the build or the machine has no CUDA device)
//
// Prints one line per measurement:
//   <what> model=<m> threads=<T> batch=<B> step_ms=<median over reps> min_ms=<min>
//   cpu_ms=<median process CPU time per step> samples_per_s=<B / median> rss_mb=<peak RSS>
// Data loading is not included (it is the same memcpy for every side).
#include <cblas.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hpcai/base/rng.h"
#include "hpcai/kernels/backend.h"
#include "hpcai/kernels/parallel.h"
#include "hpcai/runtime/model.h"
#include "hpcai/runtime/optimizer.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string what = "hpcai", model = "mlp", backend = "cpu";
  int threads = 1, steps = 20, reps = 7;
  int64_t batch = 256;
};

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double PeakRssMb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;
}

// CPU time of the whole process (all threads), seconds.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         1e-6 * static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

struct Timing {
  std::vector<double> wall;  // seconds per step, one entry per repetition
  std::vector<double> cpu;   // process CPU seconds per step (all threads)
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// cpu_ms is the CPU time of all threads per step: on a busy machine it is
// steadier than wall time for 1-thread runs (it excludes time other
// processes held the core); for T threads it includes waiting at barriers.
void Report(const Options& o, const Timing& t) {
  const double med = Median(t.wall);
  const double mn = *std::min_element(t.wall.begin(), t.wall.end());
  std::printf("%s model=%s threads=%d batch=%lld step_ms=%.3f min_ms=%.3f cpu_ms=%.3f "
              "samples_per_s=%.0f rss_mb=%.0f\n",
              o.what.c_str(), o.model.c_str(), o.threads, static_cast<long long>(o.batch),
              med * 1e3, mn * 1e3, Median(t.cpu) * 1e3, static_cast<double>(o.batch) / med,
              PeakRssMb());
}

template <typename F>
Timing Time(const Options& o, F step) {
  for (int i = 0; i < 5; ++i) step();  // warm up: buffers, caches, thread wake-ups
  Timing out;
  for (int r = 0; r < o.reps; ++r) {
    const double c0 = ProcessCpuSeconds();
    auto t0 = Clock::now();
    for (int i = 0; i < o.steps; ++i) step();
    out.wall.push_back(Seconds(t0, Clock::now()) / o.steps);
    out.cpu.push_back((ProcessCpuSeconds() - c0) / o.steps);
  }
  return out;
}

int RunHpcai(const Options& o) {
  hpcai::ModelSpec spec;
  std::vector<int64_t> shape;
  if (o.model == "mlp") {
    spec.type = "mlp";
    spec.hidden = {512, 256};
    shape = {784};
  } else {
    spec.type = "cnn";
    spec.hidden = {128};  // conv 32 + pool, conv 64 + pool (the defaults), dense 128, 10
    shape = {1, 28, 28};
  }
  hpcai::runtime::ModelOptions mo;
  mo.backend = o.backend;
  auto model = hpcai::runtime::Model::Create(spec, shape, 10, 1, mo);
  if (!model.ok()) {
    std::fprintf(stderr, "hpcai_bench_step: %s\n", model.status().ToString().c_str());
    return 1;
  }
  auto& m = *model;
  m->SetThreads(o.threads);
  hpcai::OptimizerSpec os;
  os.type = "sgd";
  os.lr = 0.01;
  os.momentum = 0.9;
  auto opt = hpcai::runtime::Optimizer::Create(os, m->params(), m->backend());
  if (!opt.ok()) {
    std::fprintf(stderr, "hpcai_bench_step: %s\n", opt.status().ToString().c_str());
    return 1;
  }
  hpcai::Rng rng(7);
  std::vector<float> x(o.batch * 784);
  std::vector<int32_t> y(o.batch);
  for (float& v : x) v = rng.Uniform();
  for (int32_t& v : y) v = static_cast<int32_t>(rng.Below(10));
  m->Reserve(o.batch);
  Report(o, Time(o, [&] {
           m->ForwardBackward(x.data(), y.data(), o.batch, o.batch, nullptr, nullptr);
           (*opt)->Step(0.01);
           if (o.backend != "cpu") m->backend()->Synchronize();  // time the device work too
         }));
  return 0;
}

// The GEMMs of one MLP 784-512-256-10 step, exactly as hpcai's dense layers
// issue them (row-major, weights (out, in)): forward y = x w^T per layer;
// backward dw = dz^T x per layer and dx = dz w for all but the first layer.
struct Gemms {
  int64_t dims[4] = {784, 512, 256, 10};
  std::vector<float> a, w, c;
  explicit Gemms(int64_t batch) : a(batch * 784, 0.5f), w(512 * 784, 0.01f), c(batch * 784 + 512 * 784) {}
  // rows [b, e) of the batch (forward, dx) and output units [o.. ) split by shard for dw.
  void Step(int64_t batch, int shard, int shards) {
    int64_t b, e;
    hpcai::kernels::ShardRange(batch, shards, shard, &b, &e);
    const int64_t rows = e - b;
    for (int l = 0; l < 3; ++l) {
      const int64_t in = dims[l], out = dims[l + 1];
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, a.data() + b * in,
                  in, w.data(), in, 0.0f, c.data() + b * out, out);
    }
    for (int l = 2; l >= 0; --l) {
      const int64_t in = dims[l], out = dims[l + 1];
      int64_t o0, o1;
      hpcai::kernels::ShardRange(out, shards, shard, &o0, &o1);
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, o1 - o0, in, batch, 1.0f, a.data() + o0,
                  out, a.data(), in, 0.0f, c.data() + o0 * in, in);
      if (l > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, in, out, 1.0f,
                    a.data() + b * out, out, w.data(), in, 0.0f, c.data() + b * in, in);
      }
    }
  }
};

int RunGemm(const Options& o, bool sharded) {
  Gemms g(o.batch);
  if (sharded) {
    // hpcai's arrangement: T threads, each its own rows, OpenBLAS single-threaded.
    hpcai::kernels::SetCpuThreads(o.threads);
    auto& pool = hpcai::kernels::CpuPool();
    Report(o, Time(o, [&] {
             pool.Run([&](int t) { g.Step(o.batch, t, o.threads); });
           }));
  } else {
    // OpenBLAS's own threading over the whole batch.
    openblas_set_num_threads(o.threads);
    Report(o, Time(o, [&] { g.Step(o.batch, 0, 1); }));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--what") o.what = v;
    else if (k == "--model") o.model = v;
    else if (k == "--backend") o.backend = v;
    else if (k == "--threads") o.threads = std::atoi(v.c_str());
    else if (k == "--batch") o.batch = std::atoll(v.c_str());
    else if (k == "--steps") o.steps = std::atoi(v.c_str());
    else if (k == "--reps") o.reps = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.what == "hpcai") return RunHpcai(o);
  if (o.what == "gemm") return RunGemm(o, false);
  if (o.what == "gemm-sharded") return RunGemm(o, true);
  std::fprintf(stderr, "--what must be hpcai, gemm or gemm-sharded\n");
  return 2;
}
