// Every layer's backward vs central finite differences of the model loss.
//
// The loss is L = sum_i loss_i / global_n (the data-parallel contract), so
// ForwardBackward's gradients must equal dL/dparam.  Finite differences use
// the model's own forward in fp32 (sum of losses returned in double), with
// step h = 1e-2 on smooth activations; tolerance |g - fd| <= 2e-3 + 2e-2 |fd|
// (fp32 forward noise / h plus O(h^2) truncation).  ReLU and max-pool are
// piecewise linear: with these seeds no element crosses a kink within h
// (the test would fail loudly if one did).
#include <gtest/gtest.h>

#include <cmath>

#include "hpcai/base/rng.h"
#include "hpcai/kernels/parallel.h"
#include "hpcai/runtime/model.h"

namespace hpcai::runtime {
namespace {

struct GradCase {
  const char* label;
  std::string type;
  std::string activation;
  std::vector<int> hidden;
  std::vector<int64_t> input_shape;
  std::vector<ConvLayerSpec> conv;
  double dropout = 0.0;
  int threads = 1;
  double h = 1e-2;
};

std::ostream& operator<<(std::ostream& os, const GradCase& c) { return os << c.label; }

class GradCheckTest : public ::testing::TestWithParam<GradCase> {};

TEST_P(GradCheckTest, BackwardMatchesFiniteDifferences) {
  const GradCase& gc = GetParam();
  kernels::SetCpuThreads(gc.threads);
  ModelSpec spec;
  spec.type = gc.type;
  spec.activation = gc.activation;
  spec.hidden = gc.hidden;
  spec.conv = gc.conv;
  spec.dropout = gc.dropout;
  const int classes = 4;
  auto made = Model::Create(spec, gc.input_shape, classes, 77);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  Model& m = **made;

  int64_t in = 1;
  for (int64_t d : gc.input_shape) in *= d;
  const int64_t n = 5, global_n = 8;  // global_n > n: this rank's share of a bigger batch
  Rng data(5);
  std::vector<float> x(n * in);
  for (float& v : x) v = 2.0f * data.Uniform() - 1.0f;
  std::vector<int32_t> y = {0, 3, 1, 2, 3};

  const Rng drop_rng(1234);  // the same masks for every evaluation below
  Rng r0 = drop_rng;
  std::vector<int> ready_order;
  m.ForwardBackward(x.data(), y.data(), n, global_n, &r0,
                    [&](int layer) { ready_order.push_back(layer); });
  std::vector<int> expect_order;
  for (int l = m.num_layers() - 1; l >= 0; --l) expect_order.push_back(l);
  EXPECT_EQ(ready_order, expect_order);

  std::vector<std::vector<float>> grads;
  for (Param* p : m.params()) grads.push_back(p->grad);

  auto loss_at = [&]() {
    Rng r = drop_rng;
    return m.ForwardBackward(x.data(), y.data(), n, global_n, &r, nullptr) / global_n;
  };
  int checked = 0;
  for (size_t pi = 0; pi < m.params().size(); ++pi) {
    Param* p = m.params()[pi];
    // Every element of small tensors; a spread-out sample of large ones.
    const int64_t stride = p->size() > 60 ? p->size() / 37 + 1 : 1;
    for (int64_t i = 0; i < p->size(); i += stride) {
      const float saved = p->value[i];
      p->value[i] = saved + static_cast<float>(gc.h);
      const double lp = loss_at();
      p->value[i] = saved - static_cast<float>(gc.h);
      const double lm = loss_at();
      p->value[i] = saved;
      const double fd = (lp - lm) / (2 * gc.h);
      EXPECT_NEAR(grads[pi][i], fd, 2e-3 + 2e-2 * std::abs(fd))
          << p->name << "[" << i << "]";
      ++checked;
    }
  }
  EXPECT_GT(checked, 20);
  kernels::SetCpuThreads(1);
}

ConvLayerSpec Conv(int filters, int kernel, int stride, int padding, int pool) {
  ConvLayerSpec c;
  c.filters = filters;
  c.kernel = kernel;
  c.stride = stride;
  c.padding = padding;
  c.pool = pool;
  return c;
}

INSTANTIATE_TEST_SUITE_P(
    Layers, GradCheckTest,
    ::testing::Values(
        GradCase{"linear", "linear", "relu", {}, {6}, {}},
        GradCase{"mlp_tanh", "mlp", "tanh", {7, 5}, {6}, {}},
        GradCase{"mlp_gelu", "mlp", "gelu", {7, 5}, {6}, {}},
        GradCase{"mlp_relu", "mlp", "relu", {7, 5}, {6}, {}, 0.0, 1, 1e-3},
        GradCase{"mlp_tanh_dropout", "mlp", "tanh", {9, 6}, {6}, {}, 0.3},
        GradCase{"mlp_gelu_dropout_3threads", "mlp", "gelu", {9, 6}, {6}, {}, 0.25, 3},
        GradCase{"mlp_tanh_2threads", "mlp", "tanh", {7}, {6}, {}, 0.0, 2},
        // conv stride 2 + padding, then a conv with pooling; 2 input channels (NCHW input)
        GradCase{"cnn_tanh", "cnn", "tanh", {6}, {2, 7, 6}, {Conv(3, 3, 2, 1, 1), Conv(4, 3, 1, 1, 2)}, 0.0, 1, 1e-3},
        GradCase{"cnn_tanh_nopool", "cnn", "tanh", {6}, {2, 7, 6}, {Conv(3, 3, 2, 1, 1), Conv(4, 3, 1, 1, 1)}},
        GradCase{"cnn_gelu_2threads", "cnn", "gelu", {}, {1, 8, 8}, {Conv(3, 3, 1, 1, 2), Conv(2, 2, 1, 0, 1)}, 0.0, 2},
        GradCase{"cnn_relu_pool", "cnn", "relu", {5}, {1, 6, 6}, {Conv(3, 3, 1, 1, 2)}, 0.0, 1, 1e-3}));

}  // namespace
}  // namespace hpcai::runtime
