#include "hpcai/base/json.h"

#include <gtest/gtest.h>

namespace hpcai {
namespace {

TEST(Json, RoundTripKeepsTypesAndOrder) {
  Json j = Json::MakeObject();
  j.set("z", 1);
  j.set("a", 2.5);
  j.set("s", "quote\" back\\ nl\n tab\t");
  j.set("n", nullptr);
  j.set("b", true);
  Json arr = Json::MakeArray();
  arr.push_back(1);
  arr.push_back("x");
  j.set("arr", arr);
  std::string one_line = j.dump();
  EXPECT_EQ(one_line.find('\n'), std::string::npos);
  EXPECT_EQ(one_line.substr(0, 5), "{\"z\":");  // insertion order kept
  auto parsed = Json::Parse(one_line);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, j);
  EXPECT_EQ(parsed->get("a").type(), Json::Type::kDouble);
  EXPECT_EQ(parsed->get("z").type(), Json::Type::kInt);
  auto pretty = Json::Parse(j.dump(2));
  ASSERT_TRUE(pretty.ok());
  EXPECT_EQ(*pretty, j);
}

TEST(Json, SetReplacesInPlace) {
  Json j;
  j.set("a", 1);
  j.set("b", 2);
  j.set("a", 3);
  EXPECT_EQ(j.dump(), "{\"a\":3,\"b\":2}");
}

TEST(Json, ErrorsCarryLineAndColumn) {
  auto r = Json::Parse("{\n  \"a\": 1,\n  \"b\" 2\n}");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("3:7"), std::string::npos) << r.status().message();
}

TEST(Json, RejectsTrailingGarbageAndDeepNesting) {
  EXPECT_FALSE(Json::Parse("{} x").ok());
  EXPECT_FALSE(Json::Parse(std::string(10000, '[')).ok());
  EXPECT_FALSE(Json::Parse("\"unterminated").ok());
}

TEST(Json, NonFiniteDoublesBecomeNull) {
  Json j = Json::MakeObject();
  j.set("x", std::numeric_limits<double>::quiet_NaN());
  EXPECT_EQ(j.dump(), "{\"x\":null}");
}

TEST(Json, UnicodeEscapesDecodeToUtf8) {
  auto r = Json::Parse("\"\\u00e9\\ud83d\\ude00\"");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->as_string(), "\xC3\xA9\xF0\x9F\x98\x80");
}

}  // namespace
}  // namespace hpcai
