// The shared per-element math (math.h): the exact functions the CPU kernels
// and the CUDA kernels both call.  Checked against closed forms and finite
// differences in double.
#include "hpcai/kernels/math.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/reference.h"

namespace hpcai::kernels {
namespace {

TEST(MathTest, ReluForwardBackward) {
  EXPECT_EQ(ReluForward(2.5f), 2.5f);
  EXPECT_EQ(ReluForward(-1.0f), 0.0f);
  EXPECT_EQ(ReluForward(0.0f), 0.0f);
  EXPECT_EQ(ReluBackward(3.0f, 0.7f), 0.7f);
  EXPECT_EQ(ReluBackward(0.0f, 0.7f), 0.0f);  // subgradient 0 at 0, as PyTorch
}

TEST(MathTest, TanhMatchesLibmAndDerivative) {
  for (float z : {-20.0f, -3.0f, -0.5f, 0.0f, 0.25f, 2.0f, 20.0f}) {
    EXPECT_FLOAT_EQ(TanhForward(z), std::tanh(z));
    const double y = std::tanh(double(z));
    EXPECT_NEAR(TanhBackward(static_cast<float>(y), 2.0f), 2.0 * (1 - y * y), 1e-6);
  }
}

TEST(MathTest, GeluMatchesClosedFormAndFiniteDifferences) {
  for (double z = -6.0; z <= 6.0; z += 0.37) {
    EXPECT_NEAR(GeluForward(static_cast<float>(z)), testing::NaiveGelu(z), 2e-6 * (1 + std::abs(z)))
        << "z=" << z;
    const double h = 1e-5;
    const double fd = (testing::NaiveGelu(z + h) - testing::NaiveGelu(z - h)) / (2 * h);
    EXPECT_NEAR(GeluBackward(static_cast<float>(z), 1.0f), fd, 1e-5) << "z=" << z;
  }
  // Large |z|: no NaN from tanh/cube overflow.
  EXPECT_FLOAT_EQ(GeluForward(50.0f), 50.0f);
  EXPECT_FLOAT_EQ(GeluForward(-50.0f), 0.0f);
  EXPECT_TRUE(std::isfinite(GeluBackward(1e10f, 1.0f)));
}

TEST(MathTest, ActTemplatesDispatchToTheSameFunctions) {
  EXPECT_EQ(Act<Activation::kRelu>::Forward(-1.0f), ReluForward(-1.0f));
  EXPECT_EQ(Act<Activation::kGelu>::Forward(0.3f), GeluForward(0.3f));
  EXPECT_EQ(Act<Activation::kTanh>::Backward(0.5f, 2.0f), TanhBackward(0.5f, 2.0f));
  EXPECT_EQ(Act<Activation::kIdentity>::Backward(123.0f, 2.0f), 2.0f);
  EXPECT_TRUE(ActivationNeedsZ(Activation::kGelu));
  EXPECT_FALSE(ActivationNeedsZ(Activation::kRelu));
  EXPECT_FALSE(ActivationNeedsZ(Activation::kTanh));
}

TEST(MathTest, DropoutMaskIsDeterministicAndHasTheRequestedRate) {
  const float keep = 0.7f;
  DropoutParams d{12345, DropoutThreshold(keep), 1.0f / keep};
  int64_t kept = 0;
  const int64_t n = 200000;
  for (int64_t i = 0; i < n; ++i) {
    float v = DropoutApply(d, i, 1.0f);
    EXPECT_EQ(v, DropoutApply(d, i, 1.0f));  // same (seed, index) -> same decision
    if (v != 0.0f) {
      EXPECT_FLOAT_EQ(v, 1.0f / keep);
      ++kept;
    }
  }
  // Binomial(n, 0.7): sd ~ 205 -> 5 sd band.
  EXPECT_NEAR(double(kept), keep * n, 1100.0);
  // Another seed gives a different mask.
  DropoutParams d2 = d;
  d2.seed = 12346;
  int differ = 0;
  for (int64_t i = 0; i < 1000; ++i) differ += (DropoutApply(d, i, 1.0f) != DropoutApply(d2, i, 1.0f));
  EXPECT_GT(differ, 200);
}

TEST(MathTest, DropoutThresholdEdges) {
  EXPECT_EQ(DropoutThreshold(1.0f), 1u << 24);
  EXPECT_EQ(DropoutThreshold(0.0f), 0u);
  DropoutParams all{7, DropoutThreshold(1.0f), 1.0f};
  DropoutParams none{7, DropoutThreshold(0.0f), 1.0f};
  for (uint64_t i = 0; i < 1000; ++i) {
    EXPECT_EQ(DropoutApply(all, i, 3.0f), 3.0f);
    EXPECT_EQ(DropoutApply(none, i, 3.0f), 0.0f);
    EXPECT_LT(DropoutBits(7, i), 1u << 24);
  }
}

TEST(MathTest, XentPiecesMatchTheDefinition) {
  const float x[3] = {1.0f, 2.0f, 0.5f};
  const float m = 2.0f;
  float s = 0.0f;
  for (float v : x) s += expf(v - m);
  double ref_logz = std::log(std::exp(1.0) + std::exp(2.0) + std::exp(0.5));
  EXPECT_NEAR(XentRowLoss(x[0], m, s), ref_logz - 1.0, 1e-6);
  double gsum = 0.0;
  for (int j = 0; j < 3; ++j) {
    float g = XentGrad(x[j], m, 1.0f / s, j == 0, 0.5f);
    double p = std::exp(double(x[j]) - ref_logz);
    EXPECT_NEAR(g, 0.5 * (p - (j == 0)), 1e-7);
    gsum += g;
  }
  EXPECT_NEAR(gsum, 0.0, 1e-7);
}

TEST(MathTest, SgdUpdateByHand) {
  // p=1, v=0.5, g=0.2, lr=0.1, mu=0.9, wd=0.01, grad_scale=0.5
  // g' = 0.1 + 0.01 = 0.11; v = 0.45 + 0.11 = 0.56; p = 1 - 0.056 = 0.944
  SgdParams h{0.1f, 0.9f, 0.01f, 0.5f, false};
  float p = 1.0f, v = 0.5f;
  SgdUpdate(h, 0.2f, &p, &v);
  EXPECT_NEAR(v, 0.56f, 1e-7);
  EXPECT_NEAR(p, 0.944f, 1e-7);
  // Nesterov: p -= lr * (g' + mu * v) = 1 - 0.1 * (0.11 + 0.504) = 0.9386
  h.nesterov = true;
  p = 1.0f;
  v = 0.5f;
  SgdUpdate(h, 0.2f, &p, &v);
  EXPECT_NEAR(v, 0.56f, 1e-7);
  EXPECT_NEAR(p, 0.9386f, 1e-7);
}

TEST(MathTest, AdamUpdateFirstStepMovesByLr) {
  // On step 1 with bias correction, m_hat = g and v_hat = g^2, so the update
  // is lr * g / (|g| + eps) ~= lr * sign(g).
  AdamParams h;
  h.lr = 0.01f;
  h.step_size = h.lr / (1.0f - h.beta1);
  h.inv_sqrt_bc2 = 1.0f / std::sqrt(1.0f - h.beta2);
  float p = 0.5f, m = 0.0f, v = 0.0f;
  AdamUpdate(h, -3.0f, &p, &m, &v);
  EXPECT_NEAR(p, 0.51f, 1e-6);
  EXPECT_NEAR(m, -0.3f, 1e-7);
  EXPECT_NEAR(v, 0.009f, 2e-7);  // (1 - 0.999f) is not exact in fp32
}

TEST(MathTest, AdamWDecayIsDecoupledAndL2IsNot) {
  AdamParams h;
  h.lr = 0.1f;
  h.step_size = h.lr / (1.0f - h.beta1);
  h.inv_sqrt_bc2 = 1.0f / std::sqrt(1.0f - h.beta2);
  // AdamW with zero gradient: only the decay moves p: p *= 1 - lr*wd.
  h.decoupled = 0.5f;
  float p = 2.0f, m = 0.0f, v = 0.0f;
  AdamUpdate(h, 0.0f, &p, &m, &v);
  EXPECT_FLOAT_EQ(p, 2.0f * (1.0f - 0.05f));
  EXPECT_EQ(m, 0.0f);
  // Adam L2 with zero gradient: decay enters the moments and moves p by ~lr.
  h.decoupled = 0.0f;
  h.l2 = 0.5f;
  p = 2.0f;
  AdamUpdate(h, 0.0f, &p, &m, &v);
  EXPECT_NEAR(m, 0.1f * 1.0f, 1e-7);  // (1-b1) * l2 * p
  EXPECT_NEAR(p, 1.9f, 1e-5);
}

TEST(MathTest, ClipScale) {
  EXPECT_EQ(ClipScale(0.5, 1.0), 1.0f);
  EXPECT_NEAR(ClipScale(4.0, 1.0), 0.25f, 1e-6);
  // At the threshold PyTorch's clip_grad_norm_ still multiplies by max/(norm+1e-6).
  EXPECT_FLOAT_EQ(ClipScale(1.0, 1.0), static_cast<float>(1.0 / (1.0 + 1e-6)));
}

TEST(MathTest, IsFiniteBits) {
  EXPECT_TRUE(IsFiniteBits(0.0f));
  EXPECT_TRUE(IsFiniteBits(-3.4e38f));
  EXPECT_TRUE(IsFiniteBits(1e-45f));
  EXPECT_FALSE(IsFiniteBits(std::numeric_limits<float>::infinity()));
  EXPECT_FALSE(IsFiniteBits(-std::numeric_limits<float>::infinity()));
  EXPECT_FALSE(IsFiniteBits(std::numeric_limits<float>::quiet_NaN()));
}

}  // namespace
}  // namespace hpcai::kernels
