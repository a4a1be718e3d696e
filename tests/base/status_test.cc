#include "hpcai/base/status.h"

#include <gtest/gtest.h>

namespace hpcai {
namespace {

Result<int> Half(int x) {
  if (x % 2) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}
Result<int> Quarter(int x) {
  HPCAI_ASSIGN_OR_RETURN(int h, Half(x));
  return Half(h);
}

TEST(Status, ResultPropagates) {
  EXPECT_EQ(*Quarter(8), 2);
  auto r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "odd: 3");
}

TEST(Status, ExitCodesAreDocumented) {
  EXPECT_EQ(ExitCodeFor(Status::SpecError("x")), 2);
  EXPECT_EQ(ExitCodeFor(Status::Corrupt("x")), 3);
  EXPECT_EQ(ExitCodeFor(Status::Numerical("x")), 4);
  EXPECT_EQ(ExitCodeFor(Status::Unavailable("x")), 5);
  EXPECT_EQ(ExitCodeFor(Status::OK()), 0);
}

TEST(Status, WithContextPrefixes) {
  EXPECT_EQ(Status::NotFound("x").WithContext("loading a").ToString(), "NotFound: loading a: x");
  EXPECT_TRUE(Status::OK().WithContext("c").ok());
}

}  // namespace
}  // namespace hpcai
