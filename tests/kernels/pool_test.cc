// Max pooling vs a naive version: ties, NaN, floor on odd sizes, backward scatter.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hpcai/kernels/cpu.h"
#include "kernels/reference.h"

namespace hpcai::kernels::cpu {
namespace {

TEST(MaxPoolTest, MatchesNaiveOnOddSizes) {
  const int64_t n = 2, h = 7, w = 5, c = 3, win = 2;
  PoolGeometry g{h, w, c, win};
  ASSERT_EQ(g.out_h(), 3);
  ASSERT_EQ(g.out_w(), 2);
  auto x = testing::RandomVector(n * h * w * c, 71);
  const int64_t out = n * g.out_h() * g.out_w() * c;
  std::vector<float> y(out);
  std::vector<int32_t> arg(out);
  MaxPoolForward(g, n, x.data(), y.data(), arg.data());
  for (int64_t s = 0; s < n; ++s)
    for (int64_t i = 0; i < g.out_h(); ++i)
      for (int64_t j = 0; j < g.out_w(); ++j)
        for (int64_t ch = 0; ch < c; ++ch) {
          float best = -1e30f;
          int64_t best_off = -1;
          for (int64_t a = 0; a < win; ++a)
            for (int64_t b = 0; b < win; ++b) {
              int64_t off = ((i * win + a) * w + (j * win + b)) * c + ch;
              if (x[s * h * w * c + off] > best) {
                best = x[s * h * w * c + off];
                best_off = off;
              }
            }
          int64_t o = ((s * g.out_h() + i) * g.out_w() + j) * c + ch;
          EXPECT_EQ(y[o], best);
          EXPECT_EQ(arg[o], best_off);
        }

  // Backward: each dy lands on its argmax; everything else (incl. the
  // floor-dropped last row/column) is zero.
  auto dy = testing::RandomVector(out, 72);
  std::vector<float> dx(x.size(), 5.0f);
  MaxPoolBackward(g, n, dy.data(), arg.data(), dx.data());
  double sum_dx = 0, sum_dy = 0;
  for (float v : dx) sum_dx += v;
  for (float v : dy) sum_dy += v;
  EXPECT_NEAR(sum_dx, sum_dy, 1e-5);
  for (int64_t s = 0; s < n; ++s)
    for (int64_t o = 0; o < g.out_h() * g.out_w() * c; ++o)
      EXPECT_EQ(dx[s * h * w * c + arg[s * g.out_h() * g.out_w() * c + o]],
                dy[s * g.out_h() * g.out_w() * c + o]);
  for (int64_t ch = 0; ch < c; ++ch) {
    EXPECT_EQ(dx[((h - 1) * w + 0) * c + ch], 0.0f);  // row 6 is outside every window
    EXPECT_EQ(dx[(0 * w + (w - 1)) * c + ch], 0.0f);  // column 4 too
  }
}

TEST(MaxPoolTest, TiesPickTheFirstInRowMajorWindowOrder) {
  // One 2x2 window, 1 channel, all equal -> element (0,0); then (0,1)==(1,0) max -> (0,1).
  PoolGeometry g{2, 2, 1, 2};
  std::vector<float> x = {3, 3, 3, 3};
  float y;
  int32_t arg;
  MaxPoolForward(g, 1, x.data(), &y, &arg);
  EXPECT_EQ(arg, 0);
  x = {1, 4, 4, 2};
  MaxPoolForward(g, 1, x.data(), &y, &arg);
  EXPECT_EQ(y, 4.0f);
  EXPECT_EQ(arg, 1);
  // Gradient of a tie goes to exactly one element.
  std::vector<float> dx(4);
  float dy = 2.0f;
  MaxPoolBackward(g, 1, &dy, &arg, dx.data());
  EXPECT_EQ(dx, (std::vector<float>{0, 2, 0, 0}));
}

TEST(MaxPoolTest, NaNPropagates) {
  PoolGeometry g{2, 2, 2, 2};
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> x = {1, 1, nan, 2, 3, 3, 0, nan};  // channel 0: {1,nan,3,0}; channel 1: {1,2,3,nan}
  float y[2];
  int32_t arg[2];
  MaxPoolForward(g, 1, x.data(), y, arg);
  EXPECT_TRUE(std::isnan(y[0]));
  EXPECT_TRUE(std::isnan(y[1]));
}

}  // namespace
}  // namespace hpcai::kernels::cpu
