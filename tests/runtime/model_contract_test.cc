// Model construction, initialisation, the ForwardBackward contract (grads
// overwritten, 1/global_n scaling, hook order, empty batches), sharding,
// evaluation, determinism and the numerical-guard diagnosis.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "hpcai/base/rng.h"
#include "hpcai/kernels/backend.h"
#include "hpcai/kernels/parallel.h"
#include "hpcai/runtime/model.h"
#include "hpcai/runtime/optimizer.h"

namespace hpcai::runtime {
namespace {

std::unique_ptr<Model> Make(const ModelSpec& spec, std::vector<int64_t> shape, int classes = 10,
                            uint64_t seed = 1) {
  auto m = Model::Create(spec, shape, classes, seed);
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? std::move(m).value() : nullptr;
}

ModelSpec Mlp(std::vector<int> hidden, std::string act = "relu", double dropout = 0.0) {
  ModelSpec s;
  s.type = "mlp";
  s.hidden = std::move(hidden);
  s.activation = std::move(act);
  s.dropout = dropout;
  return s;
}

ModelSpec Cnn() {
  ModelSpec s;
  s.type = "cnn";
  s.hidden = {32};
  ConvLayerSpec a, b;
  a.filters = 4;
  b.filters = 8;
  s.conv = {a, b};
  return s;
}

struct Batch {
  std::vector<float> x;
  std::vector<int32_t> y;
};
Batch RandomBatch(int64_t n, int64_t in, int classes, uint64_t seed) {
  Rng r(seed);
  Batch b;
  b.x.resize(n * in);
  for (float& v : b.x) v = r.Uniform();
  b.y.resize(n);
  for (int32_t& v : b.y) v = static_cast<int32_t>(r.Below(classes));
  return b;
}

class ModelTest : public ::testing::Test {
 protected:
  void TearDown() override { kernels::SetCpuThreads(1); }
};

TEST_F(ModelTest, DescribeNamesShapesAndDecayFlags) {
  auto m = Make(Mlp({512, 256}), {784});
  EXPECT_EQ(m->Describe(), "mlp 784-512-256-10 relu (535,818 params)");
  EXPECT_EQ(m->num_layers(), 3);
  auto ps = m->params();
  ASSERT_EQ(ps.size(), 6u);
  EXPECT_EQ(ps[0]->name, "dense0.weight");
  EXPECT_EQ(ps[0]->shape, (std::vector<int64_t>{512, 784}));
  EXPECT_TRUE(ps[0]->decay);
  EXPECT_EQ(ps[1]->name, "dense0.bias");
  EXPECT_FALSE(ps[1]->decay);
  EXPECT_EQ(ps[5]->name, "dense2.bias");
  EXPECT_EQ(ps[5]->layer, 2);

  ModelSpec lin;
  lin.type = "linear";
  EXPECT_EQ(Make(lin, {784})->Describe(), "linear 784-10 (7,850 params)");

  auto c = Make(Cnn(), {1, 28, 28});
  EXPECT_EQ(c->params()[0]->name, "conv0.weight");
  EXPECT_EQ(c->params()[0]->shape, (std::vector<int64_t>{4, 3, 3, 1}));
  EXPECT_EQ(c->params()[2]->shape, (std::vector<int64_t>{8, 3, 3, 4}));
  EXPECT_EQ(c->params()[4]->shape, (std::vector<int64_t>{32, 7 * 7 * 8}));
  EXPECT_EQ(c->num_layers(), 4);
  EXPECT_NE(c->Describe().find("cnn 1x28x28 conv4k3s1p1/pool2 conv8k3s1p1/pool2 dense 32-10 relu"),
            std::string::npos)
      << c->Describe();
}

TEST_F(ModelTest, DefaultCnnHasTwoConvBlocks) {
  ModelSpec s;
  s.type = "cnn";
  s.hidden = {128};
  auto m = Make(s, {1, 28, 28});
  EXPECT_EQ(m->params()[0]->shape, (std::vector<int64_t>{32, 3, 3, 1}));
  EXPECT_EQ(m->params()[2]->shape, (std::vector<int64_t>{64, 3, 3, 32}));
  EXPECT_EQ(m->params()[4]->shape, (std::vector<int64_t>{128, 3136}));
}

TEST_F(ModelTest, RejectsSpecsThatDoNotFitTheInput) {
  auto expect_bad = [](const ModelSpec& s, std::vector<int64_t> shape, const std::string& needle) {
    auto m = Model::Create(s, shape, 10, 1);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), Code::kInvalidArgument);
    EXPECT_NE(m.status().message().find(needle), std::string::npos) << m.status().message();
  };
  expect_bad(Cnn(), {784}, "(channels, height, width)");
  ModelSpec deep = Cnn();
  deep.conv.resize(5, deep.conv[0]);  // 28 -> 14 -> 7 -> 3 -> 1 -> pool 2 on 1x1
  expect_bad(deep, {1, 28, 28}, "pooling window 2 is larger than the 1x1 feature map");
  ModelSpec act = Mlp({8}, "sigmoid");
  expect_bad(act, {4}, "model.activation");
  ModelSpec type = Mlp({8});
  type.type = "transformer";
  expect_bad(type, {4}, "model.type");
  expect_bad(Mlp({8, 0}), {4}, "model.hidden[1]");
  expect_bad(Mlp({8}, "relu", 1.0), {4}, "model.dropout");
  auto one_class = Model::Create(Mlp({8}), {4}, 1, 1);
  EXPECT_FALSE(one_class.ok());
}

TEST_F(ModelTest, HeAndXavierInitFromTheSeed) {
  auto he = Make(Mlp({400}), {1000}, 10, 42);
  const auto& w = he->params()[0]->value;
  double s2 = 0, mean = 0;
  for (float v : w) {
    mean += v;
    s2 += double(v) * v;
  }
  mean /= w.size();
  const double sd = std::sqrt(s2 / w.size() - mean * mean);
  EXPECT_NEAR(sd, std::sqrt(2.0 / 1000), 0.02 * std::sqrt(2.0 / 1000));
  EXPECT_NEAR(mean, 0.0, 1e-3);
  for (float b : he->params()[1]->value) EXPECT_EQ(b, 0.0f);

  ModelSpec xs = Mlp({400});
  xs.init = "xavier";
  auto xv = Make(xs, {1000}, 10, 42);
  const float bound = std::sqrt(6.0f / 1400.0f);
  float mx = 0;
  for (float v : xv->params()[0]->value) mx = std::max(mx, std::abs(v));
  EXPECT_LE(mx, bound);
  EXPECT_GT(mx, 0.99f * bound);

  auto again = Make(Mlp({400}), {1000}, 10, 42);
  auto other = Make(Mlp({400}), {1000}, 10, 43);
  EXPECT_EQ(again->params()[0]->value, w);
  EXPECT_NE(other->params()[0]->value, w);
}

TEST_F(ModelTest, GradsAreOverwrittenAndScaledByGlobalBatch) {
  auto m = Make(Mlp({16}, "tanh"), {8}, 3);
  Batch b = RandomBatch(6, 8, 3, 7);
  m->ForwardBackward(b.x.data(), b.y.data(), 6, 6, nullptr, nullptr);
  std::vector<float> g1 = m->params()[0]->grad;
  m->ForwardBackward(b.x.data(), b.y.data(), 6, 6, nullptr, nullptr);
  EXPECT_EQ(m->params()[0]->grad, g1);  // not accumulated
  m->ForwardBackward(b.x.data(), b.y.data(), 6, 12, nullptr, nullptr);
  for (size_t i = 0; i < g1.size(); ++i) EXPECT_NEAR(m->params()[0]->grad[i], g1[i] / 2, 1e-7);
}

TEST_F(ModelTest, UnevenSplitsSumToTheWholeBatchGradient) {
  // The data-parallel contract: rank shares of one global batch, each scaled
  // by 1/global_n, sum to the whole-batch gradient (what SUM-allreduce does).
  for (const ModelSpec& spec : {Mlp({16, 8}, "gelu"), Cnn()}) {
    const bool cnn = spec.type == "cnn";
    std::vector<int64_t> shape = cnn ? std::vector<int64_t>{1, 28, 28} : std::vector<int64_t>{20};
    const int64_t in = cnn ? 784 : 20;
    auto m = Make(spec, shape, 5);
    Batch b = RandomBatch(7, in, 5, 8);
    const double whole = m->ForwardBackward(b.x.data(), b.y.data(), 7, 7, nullptr, nullptr);
    std::vector<std::vector<float>> ref;
    for (Param* p : m->params()) ref.push_back(p->grad);
    std::vector<std::vector<float>> sum;
    double loss = 0;
    const int64_t parts[][2] = {{0, 3}, {3, 3}, {3, 7}};  // includes an empty share
    for (auto [s, e] : parts) {
      loss += m->ForwardBackward(b.x.data() + s * in, b.y.data() + s, e - s, 7, nullptr, nullptr);
      auto ps = m->params();
      if (sum.empty()) {
        for (Param* p : ps) sum.push_back(p->grad);
      } else {
        for (size_t i = 0; i < ps.size(); ++i)
          for (size_t j = 0; j < sum[i].size(); ++j) sum[i][j] += ps[i]->grad[j];
      }
    }
    EXPECT_NEAR(loss, whole, 1e-5 * std::abs(whole));
    for (size_t i = 0; i < ref.size(); ++i)
      for (size_t j = 0; j < ref[i].size(); ++j)
        ASSERT_NEAR(sum[i][j], ref[i][j], 1e-5 + 1e-4 * std::abs(ref[i][j])) << spec.type << i;
  }
}

TEST_F(ModelTest, EmptyBatchZeroesGradsAndStillFiresEveryHook) {
  for (int threads : {1, 2}) {
    kernels::SetCpuThreads(threads);
    auto m = Make(Cnn(), {1, 28, 28}, 10);
    Batch b = RandomBatch(4, 784, 10, 9);
    m->ForwardBackward(b.x.data(), b.y.data(), 4, 4, nullptr, nullptr);
    std::vector<int> fired;
    const double loss =
        m->ForwardBackward(nullptr, nullptr, 0, 4, nullptr, [&](int l) { fired.push_back(l); });
    EXPECT_EQ(loss, 0.0);
    EXPECT_EQ(fired, (std::vector<int>{3, 2, 1, 0}));
    for (Param* p : m->params())
      for (float g : p->grad) ASSERT_EQ(g, 0.0f) << p->name;
  }
}

TEST_F(ModelTest, HookSeesFinalGradsOfItsLayer) {
  kernels::SetCpuThreads(2);
  auto m = Make(Mlp({32, 16}), {12}, 4);
  Batch b = RandomBatch(9, 12, 4, 10);
  std::vector<std::vector<float>> at_hook(m->params().size());
  m->ForwardBackward(b.x.data(), b.y.data(), 9, 9, nullptr, [&](int layer) {
    for (size_t i = 0; i < m->params().size(); ++i)
      if (m->params()[i]->layer == layer) at_hook[i] = m->params()[i]->grad;
  });
  for (size_t i = 0; i < m->params().size(); ++i) EXPECT_EQ(at_hook[i], m->params()[i]->grad);
}

TEST_F(ModelTest, ThreadCountDoesNotChangeTheMath) {
  // Each thread takes a shard of rows; results agree within fp32 rounding
  // (OpenBLAS's result for a row can depend on the GEMM's M, so bitwise
  // equality is only promised for a fixed thread count: see the next test).
  Batch bc = RandomBatch(13, 784, 10, 11);
  Batch bm = RandomBatch(13, 30, 10, 12);
  std::vector<std::vector<float>> cnn_ref, mlp_ref;
  double cnn_loss_ref = 0, mlp_loss_ref = 0;
  for (int threads : {1, 2, 3}) {
    kernels::SetCpuThreads(threads);
    auto c = Make(Cnn(), {1, 28, 28}, 10, 5);
    const double lc = c->ForwardBackward(bc.x.data(), bc.y.data(), 13, 13, nullptr, nullptr);
    auto m = Make(Mlp({40, 20}), {30}, 10, 5);
    const double lm = m->ForwardBackward(bm.x.data(), bm.y.data(), 13, 13, nullptr, nullptr);
    if (threads == 1) {
      cnn_loss_ref = lc;
      mlp_loss_ref = lm;
      for (Param* p : c->params()) cnn_ref.push_back(p->grad);
      for (Param* p : m->params()) mlp_ref.push_back(p->grad);
      continue;
    }
    EXPECT_NEAR(lc, cnn_loss_ref, 1e-6 * std::abs(cnn_loss_ref));
    EXPECT_NEAR(lm, mlp_loss_ref, 1e-6 * std::abs(mlp_loss_ref));
    for (size_t i = 0; i < cnn_ref.size(); ++i)
      for (size_t j = 0; j < cnn_ref[i].size(); ++j)
        ASSERT_NEAR(c->params()[i]->grad[j], cnn_ref[i][j], 1e-6 + 1e-5 * std::abs(cnn_ref[i][j]));
    for (size_t i = 0; i < mlp_ref.size(); ++i)
      for (size_t j = 0; j < mlp_ref[i].size(); ++j)
        ASSERT_NEAR(m->params()[i]->grad[j], mlp_ref[i][j], 1e-6 + 1e-5 * std::abs(mlp_ref[i][j]));
  }
}

TEST_F(ModelTest, SameSeedTrainsBitwiseIdentically) {
  // Two runs in one process, 2 threads, dropout on: identical parameters.
  kernels::SetCpuThreads(2);
  auto run = [](const ModelSpec& spec, std::vector<int64_t> shape, int64_t in) {
    auto m = Make(spec, shape, 10, 99);
    OptimizerSpec os;
    os.type = "adamw";
    os.lr = 1e-3;
    os.weight_decay = 0.01;
    os.grad_clip = 1.0;
    auto opt = Optimizer::Create(os, m->params());
    EXPECT_TRUE(opt.ok());
    Rng drop(3);
    for (int step = 0; step < 5; ++step) {
      Batch b = RandomBatch(24, in, 10, 100 + step);
      m->ForwardBackward(b.x.data(), b.y.data(), 24, 24, &drop, nullptr);
      (*opt)->Step(1e-3);
    }
    std::vector<std::vector<float>> out;
    for (Param* p : m->params()) out.push_back(p->value);
    return out;
  };
  EXPECT_EQ(run(Mlp({64, 32}, "relu", 0.2), {50}, 50), run(Mlp({64, 32}, "relu", 0.2), {50}, 50));
  EXPECT_EQ(run(Cnn(), {1, 28, 28}, 784), run(Cnn(), {1, 28, 28}, 784));
}

TEST_F(ModelTest, EvaluateHasNoDropoutAndCountsArgmaxHits) {
  auto m = Make(Mlp({32}, "relu", 0.5), {10}, 3);
  Batch b = RandomBatch(2000, 10, 3, 13);  // > 1024: evaluated in chunks
  double l1 = 0, l2 = 0;
  int64_t c1 = 0, c2 = 0;
  m->Evaluate(b.x.data(), b.y.data(), 2000, &l1, &c1);
  m->Evaluate(b.x.data(), b.y.data(), 2000, &l2, &c2);
  EXPECT_EQ(l1, l2);  // deterministic: no dropout at inference
  EXPECT_EQ(c1, c2);
  EXPECT_GT(c1, 0);
  EXPECT_LE(c1, 2000);
  // Evaluate adds to the totals it is given.
  double l3 = 1.0;
  int64_t c3 = 5;
  m->Evaluate(b.x.data(), b.y.data(), 2000, &l3, &c3);
  EXPECT_NEAR(l3, l1 + 1.0, 1e-9 * l1);
  EXPECT_EQ(c3, c1 + 5);
  // Training loss with dropout differs from the inference loss on the same data.
  Rng drop(1);
  double train = m->ForwardBackward(b.x.data(), b.y.data(), 2000, 2000, &drop, nullptr);
  EXPECT_NE(train, l1);
  // Without dropout, the training forward equals inference.
  auto plain = Make(Mlp({32}), {10}, 3);
  double le = 0;
  int64_t ce = 0;
  plain->Evaluate(b.x.data(), b.y.data(), 100, &le, &ce);
  EXPECT_NEAR(plain->ForwardBackward(b.x.data(), b.y.data(), 100, 100, nullptr, nullptr), le,
              1e-9 * le);
}

TEST_F(ModelTest, DiagnoseNonFiniteNamesTheFirstPlace) {
  auto m = Make(Mlp({16, 8}), {6}, 3);
  Batch b = RandomBatch(4, 6, 3, 14);
  m->ForwardBackward(b.x.data(), b.y.data(), 4, 4, nullptr, nullptr);
  EXPECT_EQ(m->DiagnoseNonFinite(), "");
  EXPECT_EQ(FirstNonFiniteGrad(m->params()), "");
  // A huge input overflows the first layer's output.
  b.x[0] = 3e38f;
  b.x[1] = 3e38f;
  m->ForwardBackward(b.x.data(), b.y.data(), 4, 4, nullptr, nullptr);
  EXPECT_EQ(m->DiagnoseNonFinite().rfind("output of layer 0 'dense0'", 0), 0u)
      << m->DiagnoseNonFinite();
  EXPECT_NE(FirstNonFiniteGrad(m->params()), "");
  // A poisoned parameter is reported first.
  m->params()[2]->value[3] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(m->DiagnoseNonFinite(), "parameter 'dense1.weight' (layer 1)");
  // FirstNonFiniteGrad scans in backward order.
  for (Param* p : m->params()) std::fill(p->grad.begin(), p->grad.end(), 0.0f);
  m->params()[0]->grad[0] = std::numeric_limits<float>::infinity();
  m->params()[4]->grad[0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(FirstNonFiniteGrad(m->params()), "'dense2.weight' (layer 2)");
}

TEST_F(ModelTest, BackendOptionsFailClearlyWhenTheBackendIsMissing) {
  ModelOptions cpu;
  auto m = Model::Create(Mlp({8}), {4}, 3, 1, cpu);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ((*m)->backend()->name(), "cpu");
  EXPECT_EQ((*m)->device_stream(), nullptr);
  for (Param* p : (*m)->params()) EXPECT_EQ(p->device_value, nullptr);

  ModelOptions bad;
  bad.backend = "tpu";
  auto t = Model::Create(Mlp({8}), {4}, 3, 1, bad);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), Code::kInvalidArgument);

  ModelOptions cuda;
  cuda.backend = "cuda";
  auto c = Model::Create(Mlp({8}), {4}, 3, 1, cuda);
  if (c.ok()) GTEST_SKIP() << "a CUDA device is visible here; tests/gpu cover it";
  // CPU-only build: "not compiled into this build"; CUDA build without a
  // device: "no CUDA device visible (cudaGetDeviceCount: ...)".  One line.
  EXPECT_EQ(c.status().code(), Code::kFailedPrecondition);
  const std::string& msg = c.status().message();
  EXPECT_TRUE(msg.find("not compiled into this build") != std::string::npos ||
              msg.rfind("no CUDA device visible (cudaGetDeviceCount: ", 0) == 0)
      << msg;
  EXPECT_EQ(msg.find('\n'), std::string::npos);
}

TEST_F(ModelTest, OptimizerRefusesDeviceParamsWithoutTheirBackend) {
  auto m = Make(Mlp({8}), {4}, 3);
  float fake = 0.0f;
  m->params()[0]->device_value = &fake;  // looks like a device model
  OptimizerSpec os;
  auto opt = Optimizer::Create(os, m->params());
  ASSERT_FALSE(opt.ok());
  EXPECT_NE(opt.status().message().find("Model::backend()"), std::string::npos);
  m->params()[0]->device_value = nullptr;
}

TEST_F(ModelTest, LearnsASeparableProblem) {
  // Class = argmax of 3 fixed random projections: an MLP gets it quickly.
  kernels::SetCpuThreads(2);
  auto m = Make(Mlp({32}), {8}, 3, 21);
  OptimizerSpec os;
  os.lr = 0.1;
  auto opt = Optimizer::Create(os, m->params());
  ASSERT_TRUE(opt.ok());
  Rng r(22);
  std::vector<float> proj(3 * 8);
  for (float& v : proj) v = r.Normal();
  auto make = [&](int64_t n) {
    Batch b;
    b.x.resize(n * 8);
    b.y.resize(n);
    for (int64_t i = 0; i < n; ++i) {
      float best = -1e30f;
      for (int k = 0; k < 8; ++k) b.x[i * 8 + k] = r.Normal();
      for (int c = 0; c < 3; ++c) {
        float s = 0;
        for (int k = 0; k < 8; ++k) s += proj[c * 8 + k] * b.x[i * 8 + k];
        if (s > best) {
          best = s;
          b.y[i] = c;
        }
      }
    }
    return b;
  };
  for (int step = 0; step < 300; ++step) {
    Batch b = make(64);
    m->ForwardBackward(b.x.data(), b.y.data(), 64, 64, nullptr, nullptr);
    (*opt)->Step(0.1);
  }
  Batch test = make(1000);
  double loss = 0;
  int64_t correct = 0;
  m->Evaluate(test.x.data(), test.y.data(), 1000, &loss, &correct);
  EXPECT_GT(correct, 900);
  EXPECT_LT(loss / 1000, 0.3);
}

}  // namespace
}  // namespace hpcai::runtime
