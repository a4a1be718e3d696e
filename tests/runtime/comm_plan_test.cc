// Bucket planning (pure): reverse order, size bound, tensors never split.
#include <gtest/gtest.h>

#include "hpcai/runtime/communicator.h"
#include "hpcai/runtime/model.h"

namespace hpcai::runtime {
namespace {

std::vector<GradTensor> Tensors(const std::vector<std::pair<int, int64_t>>& layer_size) {
  std::vector<GradTensor> out;
  for (size_t i = 0; i < layer_size.size(); ++i) {
    GradTensor t;
    t.name = std::string("t").append(std::to_string(i));
    t.layer = layer_size[i].first;
    t.size = layer_size[i].second;
    out.push_back(t);
  }
  return out;
}

TEST(PlanBuckets, ReverseOrderAndBound) {
  // layer 0: w 100, b 10; layer 2: w 50, b 5; layer 3: w 1000, b 2.
  auto t = Tensors({{0, 100}, {0, 10}, {2, 50}, {2, 5}, {3, 1000}, {3, 2}});
  auto plan = PlanBuckets(t, 65 * 4);  // 65 floats
  // reverse: t5(2) t4(1000) t3(5) t2(50) t1(10) t0(100)
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].tensors, (std::vector<int>{5}));       // 2; 1000 would overflow
  EXPECT_EQ(plan[1].tensors, (std::vector<int>{4}));       // alone, larger than bound
  EXPECT_EQ(plan[2].tensors, (std::vector<int>{3, 2, 1}));  // 5+50+10 = 65 fills it
  EXPECT_EQ(plan[3].tensors, (std::vector<int>{0}));
  EXPECT_EQ(plan[2].floats, 65);
  EXPECT_EQ(plan[2].layers, (std::vector<int>{2, 0}));
  EXPECT_EQ(plan[0].layers, (std::vector<int>{3}));
  int64_t total = 0;
  for (auto& b : plan) total += b.floats;
  EXPECT_EQ(total, 100 + 10 + 50 + 5 + 1000 + 2);
}

TEST(PlanBuckets, ZeroBoundIsOneBucket) {
  auto t = Tensors({{0, 3}, {1, 4}, {2, 5}});
  auto plan = PlanBuckets(t, 0);
  ASSERT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan[0].tensors, (std::vector<int>{2, 1, 0}));
  EXPECT_EQ(plan[0].floats, 12);
}

TEST(PlanBuckets, TinyBoundIsOneTensorPerBucket) {
  auto t = Tensors({{0, 3}, {1, 4}, {2, 5}});
  auto plan = PlanBuckets(t, 1);
  ASSERT_EQ(plan.size(), 3u);
  for (size_t b = 0; b < 3; ++b) EXPECT_EQ(plan[b].tensors, (std::vector<int>{2 - static_cast<int>(b)}));
}

TEST(PlanBuckets, LargeTensorsAreNotPacked) {
  // reverse: t4(2) t3(500) t2(3) t1(4) t0(600); in-place from 400 floats.
  auto t = Tensors({{0, 600}, {1, 4}, {1, 3}, {2, 500}, {2, 2}});
  auto plan = PlanBuckets(t, 1 << 20, 400 * 4);
  ASSERT_EQ(plan.size(), 4u);
  EXPECT_EQ(plan[0].tensors, (std::vector<int>{4}));
  EXPECT_EQ(plan[1].tensors, (std::vector<int>{3}));
  EXPECT_EQ(plan[2].tensors, (std::vector<int>{2, 1}));
  EXPECT_EQ(plan[2].layers, (std::vector<int>{1}));
  EXPECT_EQ(plan[3].tensors, (std::vector<int>{0}));
}

TEST(GradTensorsOf, ViewsParamGrads) {
  Param a, b;
  a.name = "dense0.weight";
  a.layer = 0;
  a.grad.resize(6);
  b.name = "dense0.bias";
  b.layer = 0;
  b.grad.resize(2);
  auto t = GradTensorsOf({&a, &b});
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[0].data, a.grad.data());
  EXPECT_EQ(t[0].size, 6);
  EXPECT_EQ(t[1].name, "dense0.bias");
  EXPECT_EQ(t[1].size, 2);
}

TEST(CommRegistry, MpiIsAlwaysBuilt) {
  auto names = CommBackendsBuilt();
  ASSERT_FALSE(names.empty());
  EXPECT_EQ(names.back(), "mpi");  // the fallback is last
}

}  // namespace
}  // namespace hpcai::runtime
