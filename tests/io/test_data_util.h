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
inline int32_t IndexLabel(int64_t i, int classes) { return static_cast<int32_t>((i + 1) % classes); }

// Writes n samples of `features` float32 features: x[i][j] = IndexFeature(i, j),
// y[i] = IndexLabel(i).  Returns the status of the writer.
inline Status WriteIndexDataset(const std::string& dir, int64_t n, int64_t features, int classes,
                                int64_t samples_per_shard, int64_t chunk_samples,
                                const std::string& compression = "none", bool chunk_checksums = true) {
  io::DatasetLayout layout;
  layout.sample_shape = {features};
  layout.num_classes = classes;
  layout.samples_per_shard = samples_per_shard;
  layout.chunk_samples = chunk_samples;
  layout.compression = compression;
  layout.chunk_checksums = chunk_checksums;
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

#include <fcntl.h>
#include <hdf5.h>
#include <sys/stat.h>

namespace hpcai::testing {

// Flips all bits of the byte at `offset` in a file.
inline bool FlipByte(const std::string& path, int64_t offset) {
  int fd = ::open(path.c_str(), O_RDWR);
  if (fd < 0) return false;
  unsigned char c = 0;
  bool ok = ::pread(fd, &c, 1, offset) == 1;
  c = static_cast<unsigned char>(~c);
  ok = ok && ::pwrite(fd, &c, 1, offset) == 1;
  ::close(fd);
  return ok;
}

inline int64_t FileSize(const std::string& path) {
  struct stat st{};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

inline bool Truncate(const std::string& path, int64_t size) { return ::truncate(path.c_str(), size) == 0; }

// File offset of chunk `index` of dataset `dset` (for targeted corruption), -1 on failure.
// Tests only: io/ normally owns all HDF5 calls (they run single-threaded here).
inline int64_t ChunkAddress(const std::string& path, const std::string& dset, int index) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (f < 0) return -1;
  hid_t d = H5Dopen2(f, dset.c_str(), H5P_DEFAULT);
  haddr_t addr = HADDR_UNDEF;
  hsize_t size = 0;
  unsigned mask = 0;
  std::vector<hsize_t> off(8);
  if (d >= 0) {
    hid_t space = H5Dget_space(d);
    H5Dget_chunk_info(d, space, static_cast<hsize_t>(index), off.data(), &mask, &addr, &size);
    H5Sclose(space);
    H5Dclose(d);
  }
  H5Fclose(f);
  return addr == HADDR_UNDEF ? -1 : static_cast<int64_t>(addr + size / 2);
}

// Replaces `from` with `to` (first occurrence) in a text file.
inline bool EditFile(const std::string& path, const std::string& from, const std::string& to) {
  auto text = fs::ReadFile(path);
  if (!text.ok()) return false;
  size_t p = text->find(from);
  if (p == std::string::npos) return false;
  text->replace(p, from.size(), to);
  return fs::AtomicWriteFile(path, *text).ok();
}

inline bool CopyFile(const std::string& from, const std::string& to) {
  auto text = fs::ReadFile(from);
  return text.ok() && fs::AtomicWriteFile(to, *text).ok();
}

}  // namespace hpcai::testing
