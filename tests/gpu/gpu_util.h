// Helpers for the GPU tests (CUDA builds only, ctest label "gpu").  On a
// machine without a visible device every test reports SKIPPED with the probe's
// reason instead of failing or hanging.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <type_traits>
#include <vector>

#include "hpcai/kernels/backend.h"
#include "hpcai/kernels/cuda.h"

namespace hpcai::kernels::gputest {

// Skips the current test when no CUDA device is visible.
#define HPCAI_REQUIRE_GPU()                                              \
  do {                                                                   \
    auto hpcai_count_ = ::hpcai::kernels::cuda::DeviceCount();           \
    if (!hpcai_count_.ok()) GTEST_SKIP() << hpcai_count_.status().message(); \
  } while (0)

// A device copy of a host vector, freed with the backend.
template <typename T>
class DeviceVector {
 public:
  DeviceVector(Backend* be, const std::vector<T>& host) : be_(be), n_(host.size()) {
    static_assert(std::is_same_v<T, float> || std::is_same_v<T, int32_t>, "float or int32_t");
    if constexpr (std::is_same_v<T, float>) {
      ptr_ = be->AllocFloats(static_cast<int64_t>(n_));
      be->CopyIn(reinterpret_cast<float*>(ptr_), host.data(), static_cast<int64_t>(n_));
    } else {
      ptr_ = be->AllocInts(static_cast<int64_t>(n_));
      be->CopyInInts(reinterpret_cast<int32_t*>(ptr_), host.data(), static_cast<int64_t>(n_));
    }
  }
  DeviceVector(Backend* be, size_t n) : DeviceVector(be, std::vector<T>(n)) {}
  ~DeviceVector() { be_->Free(ptr_); }
  T* get() const { return static_cast<T*>(ptr_); }
  std::vector<T> ToHost() const {
    static_assert(std::is_same_v<T, float>, "float only");
    std::vector<T> out(n_);
    be_->CopyOut(out.data(), get(), static_cast<int64_t>(n_));
    return out;
  }

 private:
  Backend* be_;
  size_t n_;
  void* ptr_ = nullptr;
};

inline std::unique_ptr<Backend> MakeCuda(bool tf32 = false) {
  BackendOptions o;
  o.kind = "cuda";
  o.allow_tf32 = tf32;
  auto b = CreateBackend(o);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? std::move(b).value() : nullptr;
}

}  // namespace hpcai::kernels::gputest
