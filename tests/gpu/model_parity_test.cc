// Training on the CUDA backend follows the CPU trajectory (label "gpu"):
// the same MLP / CNN, seed and batches, a few SGD-momentum and AdamW steps;
// parameters agree within 1e-4 relative (fp32 GEMMs summed in another order).
#include <gtest/gtest.h>

#include <cmath>

#include "hpcai/base/rng.h"
#include "hpcai/runtime/model.h"
#include "hpcai/runtime/optimizer.h"
#include "gpu/gpu_util.h"

namespace hpcai::runtime {
namespace {

struct Case {
  const char* name;
  std::string model, optimizer;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

class GpuModelParityTest : public ::testing::TestWithParam<Case> {};

TEST_P(GpuModelParityTest, FewStepsMatchTheCpu) {
  HPCAI_REQUIRE_GPU();
  const Case c = GetParam();
  ModelSpec spec;
  spec.type = c.model;
  std::vector<int64_t> shape = {784};
  if (c.model == "cnn") {
    spec.hidden = {64};
    shape = {1, 28, 28};
  } else {
    spec.hidden = {256, 128};
    spec.dropout = 0.1;
  }
  OptimizerSpec os;
  os.type = c.optimizer;
  os.lr = c.optimizer == "sgd" ? 0.05 : 1e-3;
  os.weight_decay = 1e-4;
  os.grad_clip = 5.0;

  auto cpu = Model::Create(spec, shape, 10, 42);
  ModelOptions mo;
  mo.backend = "cuda";
  auto gpu = Model::Create(spec, shape, 10, 42, mo);
  ASSERT_TRUE(cpu.ok() && gpu.ok()) << gpu.status().ToString();
  auto copt = Optimizer::Create(os, (*cpu)->params());
  auto gopt = Optimizer::Create(os, (*gpu)->params(), (*gpu)->backend());
  ASSERT_TRUE(copt.ok() && gopt.ok()) << gopt.status().ToString();

  Rng data(1), cdrop(2), gdrop(2);
  for (int step = 0; step < 5; ++step) {
    const int64_t n = step == 4 ? 77 : 128;  // a partial last batch too
    std::vector<float> x(n * 784);
    std::vector<int32_t> y(n);
    for (float& v : x) v = data.Uniform();
    for (int32_t& v : y) v = static_cast<int32_t>(data.Below(10));
    const double lc = (*cpu)->ForwardBackward(x.data(), y.data(), n, 128, &cdrop, nullptr);
    const double lg = (*gpu)->ForwardBackward(x.data(), y.data(), n, 128, &gdrop, nullptr);
    EXPECT_NEAR(lg, lc, 1e-4 * std::abs(lc)) << "step " << step;
    const double nc = (*copt)->Step(0.05);
    const double ng = (*gopt)->Step(0.05);
    EXPECT_NEAR(ng, nc, 1e-4 * nc) << "step " << step;
  }
  (*gpu)->SyncToHost();
  auto cp = (*cpu)->params(), gp = (*gpu)->params();
  for (size_t i = 0; i < cp.size(); ++i) {
    for (size_t j = 0; j < cp[i]->value.size(); ++j) {
      ASSERT_NEAR(gp[i]->value[j], cp[i]->value[j], 1e-5 + 1e-4 * std::abs(cp[i]->value[j]))
          << cp[i]->name << "[" << j << "]";
    }
  }
  // Evaluation on the device agrees too.
  std::vector<float> x(500 * 784);
  std::vector<int32_t> y(500);
  for (float& v : x) v = data.Uniform();
  for (int32_t& v : y) v = static_cast<int32_t>(data.Below(10));
  double lc = 0, lg = 0;
  int64_t cc = 0, cg = 0;
  (*cpu)->Evaluate(x.data(), y.data(), 500, &lc, &cc);
  (*gpu)->Evaluate(x.data(), y.data(), 500, &lg, &cg);
  EXPECT_NEAR(lg, lc, 1e-4 * lc);
  EXPECT_NEAR(static_cast<double>(cg), static_cast<double>(cc), 2.0);  // argmax ties may flip
}

INSTANTIATE_TEST_SUITE_P(Models, GpuModelParityTest,
                         ::testing::Values(Case{"mlp_sgd", "mlp", "sgd"},
                                           Case{"mlp_adamw", "mlp", "adamw"},
                                           Case{"cnn_sgd", "cnn", "sgd"}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(GpuModelTest, DeviceStreamAndBackendAreExposed) {
  HPCAI_REQUIRE_GPU();
  ModelSpec spec;
  ModelOptions mo;
  mo.backend = "cuda";
  auto m = Model::Create(spec, {20}, 3, 1, mo);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_NE((*m)->device_stream(), nullptr);
  ASSERT_NE((*m)->backend(), nullptr);
  EXPECT_FALSE((*m)->backend()->host_memory());
  for (Param* p : (*m)->params()) {
    EXPECT_NE(p->device_value, nullptr);
    EXPECT_NE(p->device_grad, nullptr);
  }
  EXPECT_NE((*m)->Describe().find("on cuda:"), std::string::npos);
}

}  // namespace
}  // namespace hpcai::runtime
