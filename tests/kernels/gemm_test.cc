// GEMM wrappers vs a naive double GEMM.  Tolerance: |err| <= 1e-5 * k * max|a||b|
// (fp32 accumulation of k products of values in [-1, 1]).
#include <gtest/gtest.h>

#include "hpcai/kernels/cpu.h"
#include "kernels/reference.h"

namespace hpcai::kernels::cpu {
namespace {

using testing::NaiveGemm;
using testing::RandomVector;

struct GemmCase {
  bool ta, tb;
};

class GemmTest : public ::testing::TestWithParam<GemmCase> {};

TEST_P(GemmTest, MatchesNaiveWithLeadingDimensionsAndBeta) {
  const auto [ta, tb] = GetParam();
  const int64_t m = 37, n = 29, k = 53;
  // Stored shapes with padding in the leading dimension.
  const int64_t a_rows = ta ? k : m, a_cols = ta ? m : k, lda = a_cols + 3;
  const int64_t b_rows = tb ? n : k, b_cols = tb ? k : n, ldb = b_cols + 5;
  const int64_t ldc = n + 2;
  auto a = RandomVector(a_rows * lda, 1);
  auto b = RandomVector(b_rows * ldb, 2);
  auto c = RandomVector(m * ldc, 3);
  auto c0 = c;
  Gemm(ta, tb, m, n, k, 0.5f, a.data(), lda, b.data(), ldb, 2.0f, c.data(), ldc);
  auto ref = NaiveGemm(ta, tb, m, n, k, a.data(), lda, b.data(), ldb);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      EXPECT_NEAR(c[i * ldc + j], 0.5 * ref[i * n + j] + 2.0 * c0[i * ldc + j], 1e-5 * k)
          << i << "," << j;
    }
    for (int64_t j = n; j < ldc; ++j) EXPECT_EQ(c[i * ldc + j], c0[i * ldc + j]);  // padding untouched
  }
}

INSTANTIATE_TEST_SUITE_P(AllTransposes, GemmTest,
                         ::testing::Values(GemmCase{false, false}, GemmCase{false, true},
                                           GemmCase{true, false}, GemmCase{true, true}));

TEST(GemmTest, EmptyInnerDimensionScalesC) {
  std::vector<float> c = {1, 2, 3, 4};
  Gemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 0.0f, c.data(), 2);
  for (float v : c) EXPECT_EQ(v, 0.0f);
  c = {1, 2, 3, 4};
  Gemm(false, false, 2, 2, 0, 1.0f, nullptr, 1, nullptr, 2, 3.0f, c.data(), 2);
  EXPECT_EQ(c[3], 12.0f);
}

TEST(LinearTest, ForwardAndBothBackwardProducts) {
  const int64_t n = 17, in = 31, out = 11;
  auto x = RandomVector(n * in, 4);
  auto w = RandomVector(out * in, 5);
  auto dz = RandomVector(n * out, 6);
  std::vector<float> y(n * out), dw(out * in, 7.0f), dx(n * in);
  LinearForward(n, in, out, x.data(), w.data(), y.data());
  auto y_ref = NaiveGemm(false, true, n, out, in, x.data(), in, w.data(), in);
  for (int64_t i = 0; i < n * out; ++i) EXPECT_NEAR(y[i], y_ref[i], 1e-5 * in);

  LinearBackwardWeight(n, in, out, dz.data(), x.data(), dw.data(), /*accumulate=*/false);
  auto dw_ref = NaiveGemm(true, false, out, in, n, dz.data(), out, x.data(), in);
  for (int64_t i = 0; i < out * in; ++i) EXPECT_NEAR(dw[i], dw_ref[i], 1e-5 * n);
  LinearBackwardWeight(n, in, out, dz.data(), x.data(), dw.data(), /*accumulate=*/true);
  for (int64_t i = 0; i < out * in; ++i) EXPECT_NEAR(dw[i], 2 * dw_ref[i], 2e-5 * n);

  LinearBackwardInput(n, in, out, dz.data(), w.data(), dx.data());
  auto dx_ref = NaiveGemm(false, false, n, in, out, dz.data(), out, w.data(), in);
  for (int64_t i = 0; i < n * in; ++i) EXPECT_NEAR(dx[i], dx_ref[i], 1e-5 * out);
}

}  // namespace
}  // namespace hpcai::kernels::cpu
