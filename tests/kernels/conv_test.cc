// im2col/col2im convolution vs a naive direct convolution (stride 2, padding,
// rectangular images), and the adjoint identity <im2col(x), c> = <x, col2im(c)>.
#include <gtest/gtest.h>

#include "hpcai/kernels/cpu.h"
#include "kernels/reference.h"

namespace hpcai::kernels::cpu {
namespace {

using testing::RandomVector;

struct ConvCase {
  int64_t h, w, c, f, k, stride, pad;
};

class ConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvTest, Im2colGemmEqualsDirectConvolution) {
  const ConvCase p = GetParam();
  const int64_t n = 3;
  ConvGeometry g{p.h, p.w, p.c, p.k, p.stride, p.pad};
  auto x = RandomVector(n * p.h * p.w * p.c, 61);
  auto wt = RandomVector(p.f * g.patch(), 62);
  const int64_t rows = n * g.out_h() * g.out_w();
  std::vector<float> col(rows * g.patch()), out(rows * p.f);
  Im2colNhwc(g, n, x.data(), col.data());
  // out(rows, f) = col(rows, patch) * w(f, patch)^T: the same product as a dense layer.
  LinearForward(rows, g.patch(), p.f, col.data(), wt.data(), out.data());
  int64_t oh, ow;
  auto ref = testing::NaiveConv(n, p.h, p.w, p.c, p.f, p.k, p.stride, p.pad, x.data(), wt.data(),
                                &oh, &ow);
  ASSERT_EQ(oh, g.out_h());
  ASSERT_EQ(ow, g.out_w());
  for (int64_t i = 0; i < rows * p.f; ++i) EXPECT_NEAR(out[i], ref[i], 1e-5 * g.patch()) << i;
}

TEST_P(ConvTest, Col2imIsTheAdjointOfIm2col) {
  const ConvCase p = GetParam();
  const int64_t n = 2;
  ConvGeometry g{p.h, p.w, p.c, p.k, p.stride, p.pad};
  const int64_t rows = n * g.out_h() * g.out_w();
  auto x = RandomVector(n * p.h * p.w * p.c, 63);
  auto cv = RandomVector(rows * g.patch(), 64);
  std::vector<float> col(rows * g.patch()), dx(x.size(), 123.0f);
  Im2colNhwc(g, n, x.data(), col.data());
  Col2imNhwc(g, n, cv.data(), dx.data());  // overwrites the 123s
  double lhs = 0, rhs = 0;
  for (size_t i = 0; i < col.size(); ++i) lhs += double(col[i]) * cv[i];
  for (size_t i = 0; i < x.size(); ++i) rhs += double(x[i]) * dx[i];
  EXPECT_NEAR(lhs, rhs, 1e-4 * (1 + std::abs(lhs)));
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvTest,
                         ::testing::Values(ConvCase{8, 8, 1, 4, 3, 1, 1},     // "same" conv
                                           ConvCase{9, 7, 3, 5, 3, 2, 1},     // stride 2, padding, odd
                                           ConvCase{10, 6, 2, 3, 5, 2, 2},    // 5x5 kernel
                                           ConvCase{6, 6, 4, 2, 1, 1, 0},     // 1x1
                                           ConvCase{5, 5, 2, 3, 3, 3, 0},     // stride 3, no pad
                                           ConvCase{4, 4, 1, 2, 3, 1, 3}));   // padding >= kernel

TEST(ConvLayoutTest, NchwToNhwc) {
  const int64_t n = 2, c = 3, h = 2, w = 4;
  auto x = RandomVector(n * c * h * w, 65);
  std::vector<float> y(x.size());
  NchwToNhwc(n, c, h, w, x.data(), y.data());
  for (int64_t s = 0; s < n; ++s)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j)
          EXPECT_EQ(y[((s * h + i) * w + j) * c + ch], x[((s * c + ch) * h + i) * w + j]);
}

}  // namespace
}  // namespace hpcai::kernels::cpu
