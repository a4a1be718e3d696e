// Optimizers and schedules vs hand-computed values and a double-precision
// re-implementation of PyTorch's update rules.
#include "hpcai/runtime/optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hpcai/kernels/parallel.h"

namespace hpcai::runtime {
namespace {

constexpr double kPi = 3.14159265358979323846;

// Two tensors: a "weight" (decayed) and a "bias" (not decayed).
struct Params {
  Param w, b;
  Params(std::vector<float> wv, std::vector<float> bv) {
    w.name = "l.weight";
    w.value = std::move(wv);
    w.grad.assign(w.value.size(), 0.0f);
    w.decay = true;
    b.name = "l.bias";
    b.value = std::move(bv);
    b.grad.assign(b.value.size(), 0.0f);
    b.decay = false;
  }
  std::vector<Param*> list() { return {&w, &b}; }
};

std::unique_ptr<Optimizer> MakeOpt(const OptimizerSpec& s, Params& p) {
  auto o = Optimizer::Create(s, p.list());
  EXPECT_TRUE(o.ok()) << o.status().ToString();
  return std::move(o).value();
}

TEST(OptimizerTest, SgdMomentumByHandAndNoDecayOnBiases) {
  OptimizerSpec s;
  s.type = "sgd";
  s.momentum = 0.9;
  s.weight_decay = 0.1;
  Params p({1.0f}, {1.0f});
  auto opt = MakeOpt(s, p);
  // Step 1: g=0.5.  weight: g' = 0.5 + 0.1*1 = 0.6, v = 0.6, w = 1 - 0.1*0.6 = 0.94
  //                 bias:   g' = 0.5 (no decay), v = 0.5, b = 1 - 0.05 = 0.95
  p.w.grad = {0.5f};
  p.b.grad = {0.5f};
  EXPECT_NEAR(opt->Step(0.1), std::sqrt(0.5), 1e-7);  // norm of the raw grads
  EXPECT_NEAR(p.w.value[0], 0.94f, 1e-7);
  EXPECT_NEAR(p.b.value[0], 0.95f, 1e-7);
  // Step 2: g=0.5.  weight: g' = 0.5 + 0.094 = 0.594, v = 0.54 + 0.594 = 1.134, w = 0.94 - 0.1134
  //                 bias:   v = 0.45 + 0.5 = 0.95, b = 0.95 - 0.095
  opt->Step(0.1);
  EXPECT_NEAR(p.w.value[0], 0.8266f, 1e-6);
  EXPECT_NEAR(p.b.value[0], 0.855f, 1e-6);
  EXPECT_EQ(opt->steps(), 2);
  auto st = opt->state();
  ASSERT_EQ(st.size(), 2u);
  EXPECT_EQ(st[0].name, "l.weight/momentum");
  EXPECT_NEAR((*st[0].data)[0], 1.134f, 1e-6);
}

TEST(OptimizerTest, SgdNesterovByHand) {
  OptimizerSpec s;
  s.momentum = 0.5;
  s.nesterov = true;
  Params p({2.0f}, {0.0f});
  auto opt = MakeOpt(s, p);
  p.w.grad = {1.0f};
  // v = 1, w = 2 - 1*(1 + 0.5*1) = 0.5 ; then v = 0.5 + 1 = 1.5, w = 0.5 - (1 + 0.75) = -1.25
  opt->Step(1.0);
  EXPECT_FLOAT_EQ(p.w.value[0], 0.5f);
  opt->Step(1.0);
  EXPECT_FLOAT_EQ(p.w.value[0], -1.25f);
}

TEST(OptimizerTest, PlainSgdHasNoState) {
  OptimizerSpec s;
  s.momentum = 0.0;
  Params p({1.0f, 2.0f}, {3.0f});
  auto opt = MakeOpt(s, p);
  p.w.grad = {1.0f, -1.0f};
  opt->Step(0.5);
  EXPECT_EQ(p.w.value, (std::vector<float>{0.5f, 2.5f}));
  EXPECT_TRUE(opt->state().empty());
}

// PyTorch's Adam/AdamW in double for one scalar.
struct RefAdam {
  double p, m = 0, v = 0;
  int t = 0;
  void Step(double g, double lr, double b1, double b2, double eps, double wd, bool decoupled) {
    ++t;
    if (decoupled) {
      p *= 1 - lr * wd;
    } else {
      g += wd * p;
    }
    m = b1 * m + (1 - b1) * g;
    v = b2 * v + (1 - b2) * g * g;
    const double bc1 = 1 - std::pow(b1, t), bc2 = 1 - std::pow(b2, t);
    p -= (lr / bc1) * m / (std::sqrt(v) / std::sqrt(bc2) + eps);
  }
};

TEST(OptimizerTest, AdamAndAdamWMatchTheReferenceForSeveralSteps) {
  for (const char* type : {"adam", "adamw"}) {
    OptimizerSpec s;
    s.type = type;
    s.beta1 = 0.8;
    s.beta2 = 0.95;
    s.eps = 1e-6;
    s.weight_decay = 0.05;
    Params p({0.7f, -1.2f}, {0.3f});
    auto opt = MakeOpt(s, p);
    RefAdam w0{0.7}, w1{-1.2}, b0{0.3};
    const bool dec = std::string(type) == "adamw";
    const double grads[4][3] = {{0.1, -0.4, 2.0}, {0.3, 0.2, -1.0}, {-0.5, 0.1, 0.5}, {0.05, -0.05, 0.0}};
    for (int step = 0; step < 4; ++step) {
      const double lr = 0.01 * (step + 1);
      p.w.grad = {static_cast<float>(grads[step][0]), static_cast<float>(grads[step][1])};
      p.b.grad = {static_cast<float>(grads[step][2])};
      opt->Step(lr);
      w0.Step(grads[step][0], lr, 0.8, 0.95, 1e-6, 0.05, dec);
      w1.Step(grads[step][1], lr, 0.8, 0.95, 1e-6, 0.05, dec);
      b0.Step(grads[step][2], lr, 0.8, 0.95, 1e-6, 0.0, dec);  // bias: no decay
      EXPECT_NEAR(p.w.value[0], w0.p, 2e-6) << type << " step " << step;
      EXPECT_NEAR(p.w.value[1], w1.p, 2e-6) << type << " step " << step;
      EXPECT_NEAR(p.b.value[0], b0.p, 2e-6) << type << " step " << step;
    }
    EXPECT_EQ(opt->state().size(), 4u);
    EXPECT_EQ(opt->state()[1].name, "l.weight/adam_v");
  }
}

TEST(OptimizerTest, AdamWDecayDiffersFromAdamL2) {
  // With a zero gradient, AdamW shrinks the weight by lr*wd exactly; Adam's L2
  // goes through the moments and moves it by ~lr (sign of the weight).
  for (const char* type : {"adam", "adamw"}) {
    OptimizerSpec s;
    s.type = type;
    s.weight_decay = 0.1;
    Params p({2.0f}, {2.0f});
    auto opt = MakeOpt(s, p);
    opt->Step(0.01);
    if (std::string(type) == "adamw") {
      EXPECT_FLOAT_EQ(p.w.value[0], 2.0f * (1 - 0.001f));
    } else {
      EXPECT_NEAR(p.w.value[0], 2.0f - 0.01f, 1e-6);
    }
    EXPECT_EQ(p.b.value[0], 2.0f);  // biases never decay
  }
}

TEST(OptimizerTest, GlobalNormClipping) {
  OptimizerSpec s;
  s.momentum = 0.0;
  s.grad_clip = 1.0;
  Params p({0.0f, 0.0f}, {0.0f});
  auto opt = MakeOpt(s, p);
  p.w.grad = {3.0f, 0.0f};
  p.b.grad = {4.0f};  // global norm 5 -> scale 1/(5+1e-6)
  EXPECT_NEAR(opt->Step(1.0), 5.0, 1e-9);  // returned before clipping
  const float scale = static_cast<float>(1.0 / (5.0 + 1e-6));
  EXPECT_FLOAT_EQ(p.w.value[0], -3.0f * scale);
  EXPECT_FLOAT_EQ(p.b.value[0], -4.0f * scale);
  // Below the threshold, gradients pass unchanged (PyTorch: coef clamped to 1).
  p.w.grad = {0.3f, 0.0f};
  p.b.grad = {0.4f};
  EXPECT_NEAR(opt->Step(1.0), 0.5, 1e-7);
  EXPECT_FLOAT_EQ(p.b.value[0], -4.0f * scale - 0.4f);
}

TEST(OptimizerTest, NonFiniteGradientChangesNothing) {
  OptimizerSpec s;
  s.type = "adam";
  Params p({1.0f, 2.0f}, {3.0f});
  auto opt = MakeOpt(s, p);
  p.w.grad = {0.1f, std::numeric_limits<float>::quiet_NaN()};
  p.b.grad = {0.1f};
  EXPECT_TRUE(std::isnan(opt->Step(0.1)));
  EXPECT_EQ(p.w.value, (std::vector<float>{1.0f, 2.0f}));
  EXPECT_EQ(p.b.value[0], 3.0f);
  EXPECT_EQ(opt->steps(), 0);
  for (auto& st : opt->state())
    for (float v : *st.data) EXPECT_EQ(v, 0.0f);
  p.w.grad[1] = std::numeric_limits<float>::infinity();
  EXPECT_TRUE(std::isinf(opt->Step(0.1)));
}

TEST(OptimizerTest, ThreadsGiveIdenticalUpdates) {
  // Elementwise updates do not depend on the slice a thread gets.
  OptimizerSpec s;
  s.type = "adamw";
  s.weight_decay = 0.01;
  std::vector<float> w(10007), b(33);
  for (size_t i = 0; i < w.size(); ++i) w[i] = std::sin(0.1 * i);
  std::vector<std::vector<float>> results;
  for (int threads : {1, 3}) {
    kernels::SetCpuThreads(threads);
    Params p(w, b);
    for (size_t i = 0; i < w.size(); ++i) p.w.grad[i] = std::cos(0.3 * i);
    auto opt = MakeOpt(s, p);
    opt->Step(0.01);
    opt->Step(0.01);
    results.push_back(p.w.value);
  }
  kernels::SetCpuThreads(1);
  EXPECT_EQ(results[0], results[1]);
}

TEST(OptimizerTest, RejectsBadSpecs) {
  Params p({1.0f}, {1.0f});
  auto bad = [&](OptimizerSpec s, const std::string& needle) {
    auto o = Optimizer::Create(s, p.list());
    ASSERT_FALSE(o.ok());
    EXPECT_NE(o.status().message().find(needle), std::string::npos) << o.status().message();
  };
  OptimizerSpec s;
  s.type = "lamb";
  bad(s, "optimizer.type");
  s = {};
  s.momentum = 1.0;
  bad(s, "optimizer.momentum");
  s = {};
  s.momentum = 0.0;
  s.nesterov = true;
  bad(s, "optimizer.nesterov");
  s = {};
  s.grad_clip = 0.0;
  bad(s, "optimizer.grad_clip");
  s = {};
  s.type = "adam";
  s.beta2 = 1.0;
  bad(s, "beta");
  s = {};
  s.lr = -1;
  bad(s, "optimizer.lr");
}

TEST(LearningRateTest, WarmupThenConstantStepCosine) {
  OptimizerSpec o;
  o.lr = 0.1;
  ScheduleSpec s;
  s.warmup_steps = 4;
  s.type = "constant";
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 0, 100), 0.025);
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 3, 100), 0.1);
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 50, 100), 0.1);

  s.type = "step";
  s.step_size = 10;
  s.gamma = 0.5;
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 1, 100), 0.05);  // still warming up
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 9, 100), 0.1);
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 10, 100), 0.05);
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 25, 100), 0.025);

  s.type = "cosine";
  s.min_lr = 0.01;
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 4, 104), 0.1);  // start of the cosine
  EXPECT_NEAR(LearningRate(o, s, 54, 104), 0.01 + 0.09 * 0.5 * (1 + std::cos(kPi * 0.5)), 1e-12);
  EXPECT_NEAR(LearningRate(o, s, 104, 104), 0.01, 1e-12);
  EXPECT_NEAR(LearningRate(o, s, 500, 104), 0.01, 1e-12);  // past the end: floor

  s.warmup_steps = 0;
  EXPECT_DOUBLE_EQ(LearningRate(o, s, 0, 10), 0.1);
}

}  // namespace
}  // namespace hpcai::runtime
