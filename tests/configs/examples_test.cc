// Every example in configs/examples/ validates (data checks off: the data
// sets are made by the data tools), and the shipped ones say what they promise.
#include <gtest/gtest.h>

#include <filesystem>

#include "hpcai/configs/model_plan.h"
#include "hpcai/configs/spec.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

SpecLoadResult LoadExample(const std::string& name) {
  static const std::map<std::string, std::string> kEnv = {{"HOME", "/home/tester"}};
  SpecLoadOptions o;
  o.env = &kEnv;
  o.check_data = false;
  return LoadSpecFile(testing_util::SourceDir() + "/configs/examples/" + name, o);
}

TEST(Examples, EveryExampleValidatesAndRoundTrips) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(testing_util::SourceDir() + "/configs/examples")) {
    if (e.path().extension() != ".yaml") continue;
    ++n;
    auto r = LoadExample(e.path().filename().string());
    ASSERT_TRUE(r.ok()) << e.path() << "\n" << r.FormatAll();
    auto back = testing_util::Load(CanonicalYaml(*r.spec));
    ASSERT_TRUE(back.ok()) << back.FormatAll();
    EXPECT_EQ(SpecHash(*back.spec), SpecHash(*r.spec)) << e.path();
  }
  EXPECT_GE(n, 3);
}

TEST(Examples, FashionMnistMlp) {
  auto r = LoadExample("fashion-mnist-mlp.yaml");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  const auto& s = *r.spec;
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(s.data.train, cwd + "/data/fmnist/train");
  EXPECT_EQ(s.data.val.value_or(""), cwd + "/data/fmnist/test");
  EXPECT_EQ(s.model.type, "mlp");
  EXPECT_EQ(s.model.hidden, (std::vector<int>{256, 128}));
  EXPECT_EQ(s.training.epochs, 15);
  EXPECT_EQ(s.training.global_batch, 256);
  EXPECT_EQ(s.optimizer.type, "sgd");
  EXPECT_DOUBLE_EQ(s.optimizer.momentum, 0.9);
  EXPECT_DOUBLE_EQ(s.optimizer.lr, 0.05);
  EXPECT_EQ(s.schedule.type, "cosine");
  EXPECT_EQ(s.resources.nodes, 1);
  EXPECT_EQ(s.resources.world_size(), 2);
  EXPECT_EQ(s.backend, "auto");
  EXPECT_EQ(s.launcher, "mpirun");
  auto plan = PlanModel(s, {1, 28, 28}, 10);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->parameters, 235146);
}

TEST(Examples, FashionMnistCnn) {
  auto r = LoadExample("fashion-mnist-cnn.yaml");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  EXPECT_EQ(r.spec->model.type, "cnn");
  EXPECT_EQ(r.spec->resources.world_size(), 2);
  auto plan = PlanModel(*r.spec, {1, 28, 28}, 10);
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->summary, "cnn 1x28x28 -> 32x14x14 -> 64x7x7 -> 128 -> 10");
}

TEST(Examples, Smoke) {
  auto r = LoadExample("smoke.yaml");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  const auto& s = *r.spec;
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_EQ(s.data.train, cwd + "/data/smoke/train");
  EXPECT_EQ(s.data.val.value_or(""), cwd + "/data/smoke/val");
  EXPECT_EQ(s.training.epochs, 1);
  EXPECT_EQ(s.resources.world_size(), 2);
  EXPECT_LE(*SlurmTimeSeconds(s.resources.time), 600);
}

}  // namespace
}  // namespace hpcai
