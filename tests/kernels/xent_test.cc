// Fused softmax + cross-entropy vs a naive double log-sum-exp, including
// logits large enough to overflow a naive fp32 softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hpcai/kernels/cpu.h"
#include "kernels/reference.h"

namespace hpcai::kernels::cpu {
namespace {

double NaiveLoss(const float* x, int64_t c, int label) {
  double m = x[0];
  for (int64_t j = 1; j < c; ++j) m = std::max(m, double(x[j]));
  double s = 0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(double(x[j]) - m);
  return std::log(s) + m - x[label];
}

TEST(SoftmaxXentTest, LossGradAndAccuracyMatchNaive) {
  const int64_t n = 9, c = 10;
  auto x = testing::RandomVector(n * c, 51, 4.0f);
  std::vector<int32_t> y = {0, 1, 2, 3, 4, 5, 6, 7, 9};
  std::vector<float> dx(n * c);
  int64_t correct = 3;  // added to, not overwritten
  const float scale = 1.0f / 32;
  double loss = SoftmaxCrossEntropy(n, c, x.data(), y.data(), scale, dx.data(), &correct);
  double ref = 0;
  int64_t ref_correct = 3;
  for (int64_t i = 0; i < n; ++i) {
    ref += NaiveLoss(x.data() + i * c, c, y[i]);
    int64_t arg = 0;
    for (int64_t j = 1; j < c; ++j) if (x[i * c + j] > x[i * c + arg]) arg = j;
    ref_correct += (arg == y[i]);
    double lse = NaiveLoss(x.data() + i * c, c, 0) + x[i * c];  // log-sum-exp
    double row_sum = 0;
    for (int64_t j = 0; j < c; ++j) {
      double p = std::exp(double(x[i * c + j]) - lse);
      EXPECT_NEAR(dx[i * c + j], scale * (p - (j == y[i])), 1e-7);
      row_sum += dx[i * c + j];
    }
    EXPECT_NEAR(row_sum, 0.0, 1e-7);
  }
  EXPECT_NEAR(loss, ref, 1e-5);
  EXPECT_EQ(correct, ref_correct);
}

TEST(SoftmaxXentTest, HugeLogitsStayFinite) {
  // exp(1e4) and exp(3e38) overflow fp32; the max-shift keeps everything finite.
  std::vector<float> x = {1e4f, 0.0f, -1e4f, 3e38f, -3e38f, 3e38f, 88.0f, 89.0f, 90.0f};
  std::vector<int32_t> y = {1, 1, 0};
  std::vector<float> dx(9);
  double loss = SoftmaxCrossEntropy(3, 3, x.data(), y.data(), 1.0f, dx.data(), nullptr);
  EXPECT_TRUE(std::isfinite(loss));
  for (float v : dx) EXPECT_TRUE(std::isfinite(v));
  // Row 0: label 1 is 1e4 below the max -> loss 1e4, grad (1, -1, 0).
  EXPECT_NEAR(loss - 6e38, 0, 1e34);  // dominated by row 1: 3e38 - (-3e38)
  EXPECT_NEAR(dx[0], 1.0f, 1e-6);
  EXPECT_NEAR(dx[1], -1.0f, 1e-6);
  // Row 1: two equal maxima share the probability.
  EXPECT_NEAR(dx[3], 0.5f, 1e-6);
  EXPECT_NEAR(dx[5], 0.5f, 1e-6);
  EXPECT_NEAR(dx[4], -1.0f, 1e-6);
  // Row 2: finite, matches naive.
  double ref2 = NaiveLoss(x.data() + 6, 3, 0);
  EXPECT_NEAR(SoftmaxCrossEntropy(1, 3, x.data() + 6, y.data() + 2, 1.0f, nullptr, nullptr), ref2,
              1e-5);
}

TEST(SoftmaxXentTest, InPlaceGradientAndNoGradient) {
  const int64_t n = 4, c = 5;
  auto x = testing::RandomVector(n * c, 52, 3.0f);
  std::vector<int32_t> y = {4, 0, 2, 2};
  std::vector<float> dx(n * c);
  double l1 = SoftmaxCrossEntropy(n, c, x.data(), y.data(), 0.5f, dx.data(), nullptr);
  double l2 = SoftmaxCrossEntropy(n, c, x.data(), y.data(), 0.5f, nullptr, nullptr);
  std::vector<float> inplace = x;
  double l3 = SoftmaxCrossEntropy(n, c, inplace.data(), y.data(), 0.5f, inplace.data(), nullptr);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(l1, l3);
  EXPECT_EQ(inplace, dx);
}

TEST(SoftmaxXentTest, InvalidLabelOrNaNLogitGivesNaNLoss) {
  std::vector<float> x = {1, 2, 3};
  std::vector<int32_t> bad = {3};
  EXPECT_TRUE(std::isnan(SoftmaxCrossEntropy(1, 3, x.data(), bad.data(), 1.0f, nullptr, nullptr)));
  bad[0] = -1;
  EXPECT_TRUE(std::isnan(SoftmaxCrossEntropy(1, 3, x.data(), bad.data(), 1.0f, nullptr, nullptr)));
  std::vector<int32_t> ok = {0};
  x[1] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_TRUE(std::isnan(SoftmaxCrossEntropy(1, 3, x.data(), ok.data(), 1.0f, nullptr, nullptr)));
}

TEST(SoftmaxXentTest, ArgmaxTiesPickTheFirst) {
  std::vector<float> x = {5, 5, 1};
  std::vector<int32_t> first = {0}, second = {1};
  int64_t correct = 0;
  SoftmaxCrossEntropy(1, 3, x.data(), first.data(), 1.0f, nullptr, &correct);
  EXPECT_EQ(correct, 1);
  SoftmaxCrossEntropy(1, 3, x.data(), second.data(), 1.0f, nullptr, &correct);
  EXPECT_EQ(correct, 1);
}

}  // namespace
}  // namespace hpcai::kernels::cpu
