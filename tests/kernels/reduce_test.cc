// Reductions and the optimizer loops vs naive loops over the shared math.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hpcai/kernels/cpu.h"
#include "kernels/reference.h"

namespace hpcai::kernels::cpu {
namespace {

TEST(ReduceTest, SumSquaresMatchesDouble) {
  for (int64_t n : {0, 1, 7, 256, 257, 100003}) {
    auto x = testing::RandomVector(n, 81 + n);
    double ref = 0;
    for (float v : x) ref += double(v) * v;
    EXPECT_NEAR(SumSquares(n, x.data()), ref, 1e-6 * (1 + ref)) << n;
  }
}

TEST(ReduceTest, FirstNonFinite) {
  std::vector<float> x(100, 1.0f);
  EXPECT_EQ(FirstNonFinite(100, x.data()), -1);
  x[70] = std::numeric_limits<float>::infinity();
  x[90] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(FirstNonFinite(100, x.data()), 70);
  EXPECT_EQ(FirstNonFinite(70, x.data()), -1);
}

TEST(ReduceTest, AddInto) {
  auto a = testing::RandomVector(33, 91), b = testing::RandomVector(33, 92);
  auto c = b;
  AddInto(33, a.data(), c.data());
  for (int i = 0; i < 33; ++i) EXPECT_EQ(c[i], a[i] + b[i]);
}

TEST(OptimizerKernelTest, SgdStepIsTheElementwiseUpdate) {
  const int64_t n = 1001;
  auto g = testing::RandomVector(n, 93), p = testing::RandomVector(n, 94),
       v = testing::RandomVector(n, 95);
  for (bool nesterov : {false, true}) {
    SgdParams h{0.05f, 0.9f, 1e-3f, 0.7f, nesterov};
    auto p1 = p, v1 = v, p2 = p, v2 = v;
    SgdStep(n, h, g.data(), p1.data(), v1.data());
    for (int64_t i = 0; i < n; ++i) SgdUpdate(h, g[i], &p2[i], &v2[i]);
    EXPECT_EQ(p1, p2);
    EXPECT_EQ(v1, v2);
  }
}

TEST(OptimizerKernelTest, AdamStepIsTheElementwiseUpdate) {
  const int64_t n = 1001;
  auto g = testing::RandomVector(n, 96), p = testing::RandomVector(n, 97);
  std::vector<float> m(n, 0.01f), v(n, 0.02f);
  AdamParams h;
  h.lr = 1e-3f;
  h.step_size = 2e-3f;
  h.inv_sqrt_bc2 = 3.0f;
  h.decoupled = 0.01f;
  auto p1 = p, m1 = m, v1 = v, p2 = p, m2 = m, v2 = v;
  AdamStep(n, h, g.data(), p1.data(), m1.data(), v1.data());
  for (int64_t i = 0; i < n; ++i) AdamUpdate(h, g[i], &p2[i], &m2[i], &v2[i]);
  // Same function, but the vectorised loop may contract to FMA differently: allow 1 ulp-ish.
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_NEAR(p1[i], p2[i], 1e-6f * (1 + std::abs(p2[i])));
    EXPECT_NEAR(m1[i], m2[i], 1e-7f);
    EXPECT_NEAR(v1[i], v2[i], 1e-7f);
  }
}

}  // namespace
}  // namespace hpcai::kernels::cpu
