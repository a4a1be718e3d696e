// PlanModel: shapes, parameter counts and checkpoint size estimates, and the
// model-vs-data mismatches reported at validate/submit time.
#include <gtest/gtest.h>

#include "hpcai/configs/model_plan.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

ResolvedSpec Spec(const std::string& yaml) {
  auto r = testing_util::Load(yaml);
  EXPECT_TRUE(r.ok()) << r.FormatAll();
  return r.ok() ? *r.spec : ResolvedSpec{};
}

TEST(ModelPlan, MlpAndLinear) {
  auto p = PlanModel(Spec("model: {type: mlp, hidden: [256, 128]}\n"), {784}, 10);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->summary, "mlp 784-256-128-10");
  EXPECT_EQ(p->input_features, 784);
  EXPECT_EQ(p->parameters, 784 * 256 + 256 + 256 * 128 + 128 + 128 * 10 + 10);
  EXPECT_EQ(p->optimizer_slots, 1);  // sgd with momentum
  EXPECT_EQ(p->checkpoint_bytes, p->parameters * 4 * 2 + 65536);
  // An image-shaped sample is flattened for dense models.
  auto img = PlanModel(Spec("model: {type: mlp, hidden: [256, 128]}\n"), {1, 28, 28}, 10);
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(img->parameters, p->parameters);
  auto lin = PlanModel(Spec("model: {type: linear}\noptimizer: {momentum: 0}\n"), {784}, 10);
  ASSERT_TRUE(lin.ok());
  EXPECT_EQ(lin->summary, "linear 784-10");
  EXPECT_EQ(lin->parameters, 7850);
  EXPECT_EQ(lin->optimizer_slots, 0);
  auto adam = PlanModel(Spec("optimizer: {type: adam, lr: 0.001}\n"), {784}, 10);
  ASSERT_TRUE(adam.ok());
  EXPECT_EQ(adam->optimizer_slots, 2);
  EXPECT_EQ(adam->checkpoint_bytes, adam->parameters * 4 * 3 + 65536);
}

TEST(ModelPlan, CnnShapes) {
  auto p = PlanModel(Spec("model: {type: cnn}\n"), {1, 28, 28}, 10);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->summary, "cnn 1x28x28 -> 32x14x14 -> 64x7x7 -> 128 -> 10");
  const int64_t conv = (32 * 1 * 9 + 32) + (64 * 32 * 9 + 64);
  const int64_t dense = (64 * 7 * 7 * 128 + 128) + (128 * 10 + 10);
  EXPECT_EQ(p->parameters, conv + dense);
  // Stride and no padding shrink the map; HxW (rank-2) samples are not images for the runtime.
  auto q = PlanModel(Spec("model: {type: cnn, conv: [{filters: 4, kernel: 5, stride: 2, padding: 0, pool: 1}], "
                          "hidden: []}\n"),
                     {1, 28, 28}, 10);
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_EQ(q->summary, "cnn 1x28x28 -> 4x12x12 -> 10");
  EXPECT_EQ(q->parameters, (4 * 25 + 4) + (4 * 144 * 10 + 10));
}

TEST(ModelPlan, MismatchesNameTheProblem) {
  auto flat = PlanModel(Spec("model: {type: cnn}\n"), {784}, 10);
  ASSERT_FALSE(flat.ok());
  EXPECT_EQ(flat.status().code(), Code::kSpecError);
  EXPECT_NE(flat.status().message().find("CxHxW (e.g. 1x28x28), but the data's samples are 784"), std::string::npos)
      << flat.status().message();
  EXPECT_FALSE(PlanModel(Spec("model: {type: cnn}\n"), {28, 28}, 10).ok());
  auto small = PlanModel(Spec("model: {type: cnn}\n"), {1, 3, 3}, 10);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("model.conv[1]: pool 2 is larger than its 1x1 feature map"),
            std::string::npos)
      << small.status().message();
  auto kernel = PlanModel(Spec("model: {type: cnn, conv: [{filters: 2, kernel: 9, padding: 0}]}\n"), {1, 4, 4}, 10);
  ASSERT_FALSE(kernel.ok());
  EXPECT_NE(kernel.status().message().find("kernel 9 (padding 0) is larger than its 4x4 input"), std::string::npos)
      << kernel.status().message();
  EXPECT_FALSE(PlanModel(Spec("name: x\n"), {784}, 1).ok());
  EXPECT_FALSE(PlanModel(Spec("name: x\n"), {}, 10).ok());
  EXPECT_FALSE(PlanModel(Spec("name: x\n"), {0, 5}, 10).ok());
}

TEST(ModelPlan, HugeShapesSaturateInsteadOfOverflowing) {
  auto p = PlanModel(Spec("model: {hidden: [1048576, 1048576]}\n"), {int64_t{1} << 40}, 1000000);
  ASSERT_TRUE(p.ok());
  EXPECT_GT(p->parameters, int64_t{1} << 59);
  EXPECT_GT(p->checkpoint_bytes, 0);
}

}  // namespace
}  // namespace hpcai
