// The backend registry: what this build has, and a clear one-line failure
// when CUDA is asked for but absent (not compiled in, or no device visible).
// In a CUDA build on a machine without a GPU this runs the real device probe.
#include <gtest/gtest.h>

#include <algorithm>

#include "hpcai/kernels/backend.h"

namespace hpcai::kernels {
namespace {

TEST(RegistryTest, CpuIsAlwaysThere) {
  auto names = CompiledBackends();
  EXPECT_NE(std::find(names.begin(), names.end(), "cpu"), names.end());
  auto cpu = CreateBackend({"cpu"});
  ASSERT_TRUE(cpu.ok()) << cpu.status().ToString();
  EXPECT_EQ((*cpu)->name(), "cpu");
  EXPECT_TRUE((*cpu)->host_memory());
  EXPECT_EQ(CpuBackend().name(), "cpu");
}

TEST(RegistryTest, UnknownKindIsRejected) {
  auto b = CreateBackend({"tpu"});
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kInvalidArgument);
  EXPECT_NE(b.status().message().find("expected 'cpu' or 'cuda'"), std::string::npos);
}

TEST(RegistryTest, CudaIsAClearFailureOrAWorkingBackend) {
  auto names = CompiledBackends();
  const bool compiled = std::find(names.begin(), names.end(), "cuda") != names.end();
  BackendOptions o;
  o.kind = "cuda";
  auto b = CreateBackend(o);
  if (!compiled) {
    ASSERT_FALSE(b.ok());
    EXPECT_EQ(b.status().code(), Code::kFailedPrecondition);
    EXPECT_NE(b.status().message().find("not compiled into this build"), std::string::npos);
    return;
  }
  if (b.ok()) {  // a machine with a GPU
    EXPECT_EQ((*b)->name().rfind("cuda:", 0), 0u);
    EXPECT_FALSE((*b)->host_memory());
    return;
  }
  // CUDA build, no device: one line, naming the probe and its reason.
  EXPECT_EQ(b.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(b.status().message().rfind("no CUDA device visible (cudaGetDeviceCount: ", 0), 0u)
      << b.status().message();
  EXPECT_EQ(b.status().message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace hpcai::kernels
