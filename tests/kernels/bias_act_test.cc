// Fused bias + activation + dropout: forward vs a naive double version,
// backward vs central finite differences of L = sum(g * y) in double.
#include <gtest/gtest.h>

#include <cmath>

#include "hpcai/kernels/cpu.h"
#include "kernels/reference.h"

namespace hpcai::kernels::cpu {
namespace {

using testing::RandomVector;

double NaiveAct(Activation a, double z) {
  switch (a) {
    case Activation::kIdentity: return z;
    case Activation::kRelu: return z > 0 ? z : 0;
    case Activation::kTanh: return std::tanh(z);
    case Activation::kGelu: return testing::NaiveGelu(z);
  }
  return 0;
}

// y = mask * scale * act(z0 + b) in double, mask from the shared counter hash.
double NaiveOut(Activation a, double pre, const DropoutParams* dp, uint64_t index) {
  double y = NaiveAct(a, pre);
  if (dp != nullptr) y = DropoutBits(dp->seed, index) < dp->threshold ? y * dp->scale : 0.0;
  return y;
}

struct Case {
  Activation act;
  bool dropout;
  bool saved_is_z;
};

class BiasActTest : public ::testing::TestWithParam<Case> {};

TEST_P(BiasActTest, ForwardMatchesNaiveAndBackwardMatchesFiniteDifferences) {
  const Case c = GetParam();
  const int64_t n = 7, d = 13, row_offset = 5;
  auto z0 = RandomVector(n * d, 11, 2.0f);
  auto b = RandomVector(d, 12, 0.5f);
  auto g = RandomVector(n * d, 13);
  // Keep away from ReLU's kink so finite differences are meaningful.
  for (int64_t i = 0; i < n * d; ++i) {
    int64_t j = i % d;
    if (std::abs(z0[i] + b[j]) < 0.05f) z0[i] += 0.2f;
  }
  DropoutParams dp{99, DropoutThreshold(0.6f), 1.0f / 0.6f};
  const DropoutParams* dptr = c.dropout ? &dp : nullptr;

  std::vector<float> z = z0, y(n * d);
  BiasActivationForward(c.act, n, d, b.data(), z.data(), y.data(), dptr, row_offset);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < d; ++j) {
      const double pre = double(z0[i * d + j]) + b[j];
      EXPECT_NEAR(z[i * d + j], pre, 1e-6);
      EXPECT_NEAR(y[i * d + j], NaiveOut(c.act, pre, dptr, (row_offset + i) * d + j), 1e-5);
    }
  }

  // Backward.  saved = z, or y = act(z) without dropout.
  std::vector<float> saved = z;
  if (!c.saved_is_z) {
    for (int64_t i = 0; i < n * d; ++i) saved[i] = static_cast<float>(NaiveAct(c.act, z[i]));
  }
  std::vector<float> dz(n * d), db(d, 42.0f);
  BiasActivationBackward(c.act, n, d, saved.data(), c.saved_is_z, g.data(), dptr, row_offset,
                         dz.data(), db.data(), /*accumulate_bias=*/false);

  auto loss = [&](const std::vector<double>& pre) {
    double l = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < d; ++j)
        l += g[i * d + j] * NaiveOut(c.act, pre[i * d + j], dptr, (row_offset + i) * d + j);
    return l;
  };
  std::vector<double> pre(n * d);
  for (int64_t i = 0; i < n * d; ++i) pre[i] = double(z0[i]) + b[i % d];
  const double h = 1e-4;
  std::vector<double> db_ref(d, 0.0);
  for (int64_t i = 0; i < n * d; ++i) {
    auto p = pre, q = pre;
    p[i] += h;
    q[i] -= h;
    const double fd = (loss(p) - loss(q)) / (2 * h);
    EXPECT_NEAR(dz[i], fd, 2e-4 * (1 + std::abs(fd))) << "element " << i;
    db_ref[i % d] += fd;
  }
  for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(db[j], db_ref[j], 1e-3) << "bias " << j;

  // Without a bias gradient, dz is the same and db untouched; in place (dz == dy) too.
  std::vector<float> dz2 = g, db2(d, 42.0f);
  BiasActivationBackward(c.act, n, d, saved.data(), c.saved_is_z, dz2.data(), dptr, row_offset,
                         dz2.data(), nullptr, false);
  EXPECT_EQ(dz2, dz);
  EXPECT_EQ(db2[0], 42.0f);
}

INSTANTIATE_TEST_SUITE_P(
    Activations, BiasActTest,
    ::testing::Values(Case{Activation::kIdentity, false, false}, Case{Activation::kRelu, false, false},
                      Case{Activation::kRelu, true, true}, Case{Activation::kTanh, false, false},
                      Case{Activation::kTanh, true, true}, Case{Activation::kGelu, false, true},
                      Case{Activation::kGelu, true, true}));

TEST(BiasActShardTest, ShardsWithRowOffsetsReproduceTheWholeBatch) {
  const int64_t n = 10, d = 6;
  auto z0 = RandomVector(n * d, 21);
  auto b = RandomVector(d, 22);
  DropoutParams dp{5, DropoutThreshold(0.5f), 2.0f};
  std::vector<float> z_all = z0, y_all(n * d);
  BiasActivationForward(Activation::kRelu, n, d, b.data(), z_all.data(), y_all.data(), &dp, 0);
  std::vector<float> z_sh = z0, y_sh(n * d);
  BiasActivationForward(Activation::kRelu, 4, d, b.data(), z_sh.data(), y_sh.data(), &dp, 0);
  BiasActivationForward(Activation::kRelu, 6, d, b.data(), z_sh.data() + 4 * d,
                        y_sh.data() + 4 * d, &dp, 4);
  EXPECT_EQ(y_all, y_sh);
}

TEST(BiasActAliasTest, InPlaceOutputForRelu) {
  const int64_t n = 3, d = 5;
  auto z = RandomVector(n * d, 31);
  auto b = RandomVector(d, 32);
  std::vector<float> sep_z = z, sep_y(n * d);
  BiasActivationForward(Activation::kRelu, n, d, b.data(), sep_z.data(), sep_y.data(), nullptr, 0);
  BiasActivationForward(Activation::kRelu, n, d, b.data(), z.data(), z.data(), nullptr, 0);
  EXPECT_EQ(z, sep_y);
}

TEST(BiasGradTest, ColumnSliceWithLeadingDimensionAndAccumulate) {
  const int64_t n = 1000, ld = 9, d = 4;
  auto g = RandomVector(n * ld, 41);
  std::vector<float> db(d, 0.0f);
  BiasGrad(n, d, ld, g.data() + 3, db.data(), false);  // columns 3..6
  for (int64_t j = 0; j < d; ++j) {
    double ref = 0;
    for (int64_t i = 0; i < n; ++i) ref += g[i * ld + 3 + j];
    EXPECT_NEAR(db[j], ref, 1e-4);
  }
  std::vector<float> db2 = db;
  BiasGrad(n, d, ld, g.data() + 3, db2.data(), true);
  for (int64_t j = 0; j < d; ++j) EXPECT_NEAR(db2[j], 2 * db[j], 1e-4);
}

TEST(BiasGradTest, ManyRowsStayAccurate) {
  // 1e6 rows of 0.1: a plain fp32 running sum drifts by > 1e-3 relative; the
  // blocked sum stays within 1e-5 relative of the double sum.
  const int64_t n = 1000000, d = 2;
  std::vector<float> g(n * d, 0.1f);
  std::vector<float> db(d);
  BiasGrad(n, d, d, g.data(), db.data(), false);
  const double ref = double(0.1f) * n;
  EXPECT_NEAR(db[0], ref, 1e-5 * ref);
  EXPECT_NEAR(db[1], ref, 1e-5 * ref);
  float naive = 0.0f;
  for (int64_t i = 0; i < n; ++i) naive += g[i * d];
  EXPECT_GT(std::abs(naive - ref), 1e-3 * ref);  // the failure mode the blocking avoids
}

}  // namespace
}  // namespace hpcai::kernels::cpu
