// The shared index functions (elements.h) that the CUDA kernels run one
// thread per element: evaluated here over every index and compared BIT FOR
// BIT with the CPU kernels, so the device kernels' index arithmetic is
// verified on a machine without a GPU.
#include "hpcai/kernels/elements.h"

#include <gtest/gtest.h>

#include <cstring>

#include "hpcai/kernels/cpu.h"
#include "kernels/reference.h"

namespace hpcai::kernels {
namespace {

using testing::RandomVector;

// Bitwise equality (distinguishes -0 and +0, and compares NaN payloads).
::testing::AssertionResult SameBits(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return ::testing::AssertionFailure() << "sizes differ";
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::memcmp(&a[i], &b[i], sizeof(float)) != 0) {
      return ::testing::AssertionFailure() << "element " << i << ": " << a[i] << " vs " << b[i];
    }
  }
  return ::testing::AssertionSuccess();
}

class ConvElementsTest : public ::testing::TestWithParam<ConvGeometry> {};

TEST_P(ConvElementsTest, Im2colAndCol2imElementsEqualTheCpuKernels) {
  const ConvGeometry g = GetParam();
  const int64_t n = 3, rows = n * g.out_h() * g.out_w();
  auto x = RandomVector(n * g.in_h * g.in_w * g.in_c, 301);
  std::vector<float> col_cpu(rows * g.patch()), col_el(col_cpu.size());
  cpu::Im2colNhwc(g, n, x.data(), col_cpu.data());
  for (int64_t i = 0; i < static_cast<int64_t>(col_el.size()); ++i)
    col_el[i] = Im2colElement(g, x.data(), i);
  EXPECT_TRUE(SameBits(col_el, col_cpu));

  auto dcol = RandomVector(rows * g.patch(), 302);
  std::vector<float> dx_cpu(x.size()), dx_el(x.size());
  cpu::Col2imNhwc(g, n, dcol.data(), dx_cpu.data());
  for (int64_t i = 0; i < static_cast<int64_t>(dx_el.size()); ++i)
    dx_el[i] = Col2imElement(g, dcol.data(), i);
  EXPECT_TRUE(SameBits(dx_el, dx_cpu));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvElementsTest,
                         ::testing::Values(ConvGeometry{8, 8, 1, 3, 1, 1},
                                           ConvGeometry{9, 7, 3, 3, 2, 1},
                                           ConvGeometry{10, 6, 2, 5, 2, 2},
                                           ConvGeometry{6, 6, 4, 1, 1, 0},
                                           ConvGeometry{7, 5, 2, 3, 3, 0},
                                           ConvGeometry{4, 4, 1, 3, 1, 3},
                                           ConvGeometry{14, 14, 32, 3, 1, 1}));

TEST(PoolElementsTest, ForwardAndBackwardElementsEqualTheCpuKernels) {
  for (PoolGeometry g : {PoolGeometry{7, 5, 3, 2}, PoolGeometry{28, 28, 32, 2},
                         PoolGeometry{9, 9, 2, 3}, PoolGeometry{4, 4, 1, 4}}) {
    const int64_t n = 2, out = n * g.out_h() * g.out_w() * g.c;
    auto x = RandomVector(n * g.h * g.w * g.c, 303);
    for (size_t i = 0; i < x.size(); i += 7) x[i] = x[i + 1 < x.size() ? i + 1 : i];  // some ties
    std::vector<float> y_cpu(out), y_el(out);
    std::vector<int32_t> a_cpu(out), a_el(out);
    cpu::MaxPoolForward(g, n, x.data(), y_cpu.data(), a_cpu.data());
    for (int64_t i = 0; i < out; ++i) y_el[i] = MaxPoolElement(g, x.data(), i, &a_el[i]);
    EXPECT_TRUE(SameBits(y_el, y_cpu));
    EXPECT_EQ(a_el, a_cpu);

    auto dy = RandomVector(out, 304);
    std::vector<float> dx_cpu(x.size()), dx_el(x.size());
    cpu::MaxPoolBackward(g, n, dy.data(), a_cpu.data(), dx_cpu.data());
    for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i)
      dx_el[i] = MaxPoolBackwardElement(g, dy.data(), a_cpu.data(), i);
    EXPECT_TRUE(SameBits(dx_el, dx_cpu));
  }
}

TEST(LayoutElementsTest, NchwToNhwc) {
  const int64_t n = 2, c = 3, h = 5, w = 4;
  auto x = RandomVector(n * c * h * w, 305);
  std::vector<float> y_cpu(x.size()), y_el(x.size());
  cpu::NchwToNhwc(n, c, h, w, x.data(), y_cpu.data());
  for (int64_t i = 0; i < static_cast<int64_t>(x.size()); ++i)
    y_el[i] = NchwToNhwcElement(c, h, w, x.data(), i);
  EXPECT_TRUE(SameBits(y_el, y_cpu));
}

TEST(ReductionElementsTest, BiasGradColumnEqualsTheVectorisedCpuKernel) {
  for (int64_t n : {1, 255, 256, 257, 1000}) {
    const int64_t ld = 11, d = 7;
    auto g = RandomVector(n * ld, 306 + n);
    std::vector<float> cpu_db(d), el_db(d);
    cpu::BiasGrad(n, d, ld, g.data() + 2, cpu_db.data(), false);
    for (int64_t j = 0; j < d; ++j) el_db[j] = static_cast<float>(BiasGradColumn(n, ld, g.data() + 2, j));
    EXPECT_TRUE(SameBits(el_db, cpu_db)) << n;
    // Accumulating form: (float)(old + total), as the CUDA kernel stores it.
    std::vector<float> acc = cpu_db, acc_el(d);
    cpu::BiasGrad(n, d, ld, g.data() + 2, acc.data(), true);
    for (int64_t j = 0; j < d; ++j)
      acc_el[j] = static_cast<float>(cpu_db[j] + BiasGradColumn(n, ld, g.data() + 2, j));
    EXPECT_TRUE(SameBits(acc_el, acc)) << n;
    // The fused activation backward computes the same bias gradient.
    std::vector<float> dz(n * d), fused_db(d), gd(n * d);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j) gd[i * d + j] = g[i * ld + 2 + j];
    cpu::BiasActivationBackward(Activation::kIdentity, n, d, gd.data(), false, gd.data(), nullptr,
                                0, dz.data(), fused_db.data(), false);
    EXPECT_TRUE(SameBits(fused_db, cpu_db)) << n;
  }
}

TEST(ReductionElementsTest, SumSquaresIsTheSumOfBlocks) {
  auto x = RandomVector(1000, 310);
  double blocks = 0;
  for (int64_t b = 0; b < 1000; b += kSumBlock) blocks += SumSquaresBlock(x.data(), b, std::min<int64_t>(b + kSumBlock, 1000));
  EXPECT_EQ(cpu::SumSquares(1000, x.data()), blocks);
}

}  // namespace
}  // namespace hpcai::kernels
