// Test helpers shared by tests/io and tests/mpi: temporary directories and
// small datasets whose samples encode their own index.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "hpcai/base/fs.h"
#include "hpcai/io/dataset.h"

namespace hpcai::testing {

// A fresh directory under $HPCAI_TEST_TMP (or /tmp), unique per process and name.
inline std::string TempDir(const std::string& name) {
  const char* root = std::getenv("HPCAI_TEST_TMP");
  std::string base = root && *root ? root : "/tmp/hpcai-test";
  std::string dir = base + "/" + name + "." + std::to_string(::getpid());
  (void)fs::RemoveAll(dir);
  (void)fs::MakeDirs(dir);
  return dir;
}

// Feature j of sample i in an index dataset: exactly representable floats.
inline float IndexFeature(int64_t i, int64_t j) { return static_cast<float>(i) + 0.25f * static_cast<float>(j % 4); }
inline int32_t IndexLabel(int64_t i, int classes) { return static_cast<int32_t>((i * 7 + 3) % classes); }

// Writes n samples of `features` float32 features: x[i][j] = IndexFeature(i, j),
// y[i] = IndexLabel(i).  Returns the status of the writer.
inline Status WriteIndexDataset(const std::string& dir, int64_t n, int64_t features, int classes,
                                int64_t samples_per_shard, int64_t chunk_samples,
                                const std::string& compression = "none") {
  io::DatasetLayout layout;
  layout.sample_shape = {features};
  layout.num_classes = classes;
  layout.samples_per_shard = samples_per_shard;
  layout.chunk_samples = chunk_samples;
  layout.compression = compression;
  auto w = io::DatasetWriter::Create(dir, layout, n, /*overwrite=*/true);
  if (!w.ok()) return w.status();
  std::vector<float> x(static_cast<size_t>(features));
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < features; ++j) x[static_cast<size_t>(j)] = IndexFeature(i, j);
    int32_t y = IndexLabel(i, classes);
    Status st = (*w)->Append(x.data(), &y, 1);
    if (!st.ok()) return st;
  }
  return (*w)->Finish();
}

// Runs a shell command, returns its exit status and stdout (+stderr if merge).
inline int RunCommand(const std::string& cmd, std::string* out) {
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) {
    if (out) out->append(buf, n);
  }
  int rc = ::pclose(p);
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace hpcai::testing
