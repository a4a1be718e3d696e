// hpcai-ckpt-bench: checkpoint write speed against a raw write + fsync of the
// same bytes (alternating, medians), and the training stall per checkpoint
// with the async writer vs the synchronous one.  Driven by
// scripts/bench-checkpoint.sh; figures in docs/checkpoint-format.md.
//
//   hpcai-ckpt-bench --dir DIR [--mb 256] [--tensors 8] [--repeats 5] [--step-ms 300]
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/io/checkpoint.h"

using namespace hpcai;
using Clock = std::chrono::steady_clock;

namespace {
double Since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}
// The reference: one file, write(2) in 4 MiB pieces, fsync, close.
double RawWrite(const std::string& path, const std::vector<std::vector<float>>& tensors) {
  auto t0 = Clock::now();
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror("open");
    std::exit(1);
  }
  for (const auto& t : tensors) {
    const char* p = reinterpret_cast<const char*>(t.data());
    size_t n = t.size() * sizeof(float);
    while (n > 0) {
      ssize_t w = ::write(fd, p, std::min<size_t>(n, 4 << 20));
      if (w <= 0) {
        std::perror("write");
        std::exit(1);
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
  }
  ::fsync(fd);
  ::close(fd);
  return Since(t0);
}
void Spin(double seconds) {
  auto until = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < until) {
  }
}
}  // namespace

int main(int argc, char** argv) {
  std::string dir = "ckpt-bench";
  double mb = 256, step_ms = 300;
  int ntensors = 8, repeats = 5, keep_last = 1;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--dir") dir = v;
    else if (k == "--mb") mb = std::atof(v.c_str());
    else if (k == "--tensors") ntensors = std::atoi(v.c_str());
    else if (k == "--repeats") repeats = std::atoi(v.c_str());
    else if (k == "--step-ms") step_ms = std::atof(v.c_str());
    else if (k == "--keep-last") keep_last = std::atoi(v.c_str());
    else {
      std::fprintf(stderr, "usage: hpcai-ckpt-bench --dir DIR [--mb MB] [--tensors N] [--repeats R] [--step-ms MS]\n");
      return 2;
    }
  }
  (void)fs::RemoveAll(dir);
  (void)fs::MakeDirs(dir);
  const size_t per = static_cast<size_t>(mb * 1e6 / 4 / ntensors);
  std::vector<std::vector<float>> tensors(static_cast<size_t>(ntensors), std::vector<float>(per));
  for (size_t t = 0; t < tensors.size(); ++t) {
    for (size_t i = 0; i < per; ++i) tensors[t][i] = static_cast<float>(i % 977) * 0.001f + static_cast<float>(t);
  }
  io::CheckpointData data;
  data.meta.world_size = 1;
  data.rng = {io::RngState{1, 2}};
  for (size_t t = 0; t < tensors.size(); ++t) {
    data.tensors.push_back({"params/layer" + std::to_string(t) + "/w", {static_cast<int64_t>(per)}, tensors[t].data()});
  }
  const double bytes = static_cast<double>(per) * 4 * ntensors;

  // 1. Write throughput, alternating with the raw reference.
  std::vector<double> raw_s, ck_s, prune_s;
  for (int r = 0; r < repeats; ++r) {
    raw_s.push_back(RawWrite(dir + "/raw.bin", tensors));
    ::unlink((dir + "/raw.bin").c_str());
    data.meta.step = r;
    auto t0 = Clock::now();
    auto p = io::WriteCheckpointDurable(dir + "/sync", data);
    ck_s.push_back(Since(t0));
    auto t1 = Clock::now();
    io::PruneCheckpoints(dir + "/sync", keep_last, data.meta.step);
    prune_s.push_back(Since(t1));
    if (!p.ok()) {
      std::fprintf(stderr, "%s\n", p.status().ToString().c_str());
      return 1;
    }
  }
  // 2. Stall per checkpoint seen by a training loop: sync write vs async
  //    Submit (copy into host buffers + waiting for a previous write).
  std::vector<double> sync_stall, async_stall, async_wait, async_copy, memcpy_s;
  // Checkpoints at least 1.5x the write time apart (a real interval is
  // minutes): then the async stall is the copy alone, by design.  The wait for
  // a previous write, if any, is reported on its own.
  step_ms = std::max(step_ms, 1500 * Median(ck_s));
  std::vector<std::vector<float>> copy(tensors.size(), std::vector<float>(per));
  for (int r = 0; r < repeats; ++r) {
    auto t0 = Clock::now();
    for (size_t t = 0; t < tensors.size(); ++t) std::memcpy(copy[t].data(), tensors[t].data(), per * 4);
    memcpy_s.push_back(Since(t0));
  }
  {
    io::AsyncCheckpointWriter writer(dir + "/async", 1);
    for (int r = 0; r < repeats; ++r) {
      Spin(step_ms / 1000);  // "training" between checkpoints
      data.meta.step = 100 + r;
      auto t0 = Clock::now();
      (void)writer.Wait();
      async_wait.push_back(Since(t0));
      auto t1 = Clock::now();
      auto st = writer.Submit(data);
      async_copy.push_back(Since(t1));
      async_stall.push_back(Since(t0));
      if (!st.ok()) {
        std::fprintf(stderr, "%s\n", st.ToString().c_str());
        return 1;
      }
    }
    if (!writer.Wait().ok()) return 1;
    for (int r = 0; r < repeats; ++r) {
      Spin(step_ms / 1000);
      data.meta.step = 200 + r;
      auto t0 = Clock::now();
      if (!io::WriteCheckpoint(dir + "/sync2", data, 1).ok()) return 1;
      sync_stall.push_back(Since(t0));
    }
  }
  Json j = Json::MakeObject();
  j.set("mb", bytes / 1e6);
  j.set("tensors", ntensors);
  j.set("repeats", repeats);
  j.set("raw_write_fsync_mb_s", bytes / 1e6 / Median(raw_s));
  j.set("checkpoint_mb_s", bytes / 1e6 / Median(ck_s));
  j.set("ratio", Median(raw_s) / Median(ck_s));
  j.set("prune_ms", 1000 * Median(prune_s));
  j.set("ratio_with_prune", Median(raw_s) / (Median(ck_s) + Median(prune_s)));
  j.set("sync_stall_ms", 1000 * Median(sync_stall));
  j.set("async_stall_ms", 1000 * Median(async_stall));
  j.set("async_wait_ms", 1000 * Median(async_wait));
  j.set("async_copy_ms", 1000 * Median(async_copy));
  j.set("memcpy_ms", 1000 * Median(memcpy_s));
  j.set("step_ms", step_ms);
  std::printf("%s\n", j.dump().c_str());
  (void)fs::RemoveAll(dir);
  return 0;
}
