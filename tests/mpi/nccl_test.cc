// The NCCL communicator under real ranks.  Runs only in CUDA builds on a
// machine with a visible device (one per rank); elsewhere it reports SKIPPED
// with the reason (no NCCL in the build / the device probe's message).  This
// project's machines have no GPU: here it is always skipped.
#include <gtest/gtest.h>

#include <algorithm>

#include "hpcai/kernels/backend.h"
#include "hpcai/runtime/communicator.h"

namespace hpcai::runtime {
namespace {

TEST(NcclGradientSync, SumsDeviceTensorsOfAwkwardSizes) {
  auto built = CommBackendsBuilt();
  if (std::find(built.begin(), built.end(), "nccl") == built.end()) {
    GTEST_SKIP() << "this build has no NCCL backend (configure with -DHPCAI_WITH_CUDA=ON)";
  }
  // Collective and agreed: every rank skips or none does.
  auto comm = CreateCommunicator(CommOptions{.gpu = true});
  if (!comm.ok()) GTEST_SKIP() << comm.status().message();
  auto be = kernels::CreateBackend(kernels::BackendOptions{.kind = "cuda"});
  ASSERT_TRUE(be.ok()) << be.status().ToString();
  const int r = (*comm)->rank(), n = (*comm)->size();
  const std::vector<int64_t> sizes = {1, 7, 1000, 3, 100003, 13, 262147, 2};
  std::vector<float*> dev;
  std::vector<GradTensor> tensors;
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<float> host(sizes[i]);
    for (int64_t j = 0; j < sizes[i]; ++j) host[j] = static_cast<float>((r + 1) * 3 + (i * 31 + j * 7) % 101);
    float* d = (*be)->AllocFloats(sizes[i]);
    ASSERT_NE(d, nullptr);
    (*be)->CopyIn(d, host.data(), sizes[i]);
    dev.push_back(d);
    tensors.push_back(GradTensor{std::string("t").append(std::to_string(i)), static_cast<int>(i / 2), d, sizes[i]});
  }
  GradientSyncOptions opt;
  opt.bucket_bytes = 64 << 10;
  opt.cuda_stream = (*be)->native_stream();
  auto sync = (*comm)->CreateGradientSync(tensors, opt);
  ASSERT_TRUE(sync.ok()) << sync.status().ToString();
  for (int l = static_cast<int>(sizes.size() / 2); l >= 0; --l) (*sync)->OnLayerReady(l);
  ASSERT_TRUE((*sync)->Wait().ok());
  for (size_t i = 0; i < sizes.size(); ++i) {
    std::vector<float> out(sizes[i]);
    (*be)->CopyOut(out.data(), dev[i], sizes[i]);
    for (int64_t j = 0; j < sizes[i]; ++j) {
      float want = 0;
      for (int q = 0; q < n; ++q) want += static_cast<float>((q + 1) * 3 + (i * 31 + j * 7) % 101);
      ASSERT_EQ(out[j], want) << "tensor " << i << " element " << j;
    }
    (*be)->Free(dev[i]);
  }
}

}  // namespace
}  // namespace hpcai::runtime
