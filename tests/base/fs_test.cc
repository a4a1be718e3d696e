#include "hpcai/base/fs.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <thread>
#include <vector>

namespace hpcai {
namespace {

class FsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/hpcai-fs-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  std::string dir_;
};

TEST_F(FsTest, AtomicWriteReplacesAndLeavesNoTemp) {
  std::string p = fs::Join(dir_, "f.json");
  ASSERT_TRUE(fs::AtomicWriteFile(p, "one").ok());
  ASSERT_TRUE(fs::AtomicWriteFile(p, "two").ok());
  auto r = fs::ReadFile(p);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "two");
  auto names = fs::ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 1u);
}

TEST_F(FsTest, AtomicWriteIntoMissingDirFailsCleanly) {
  Status s = fs::AtomicWriteFile(fs::Join(dir_, "nope/f"), "x");
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_NE(s.message().find("nope/f"), std::string::npos);
}

TEST_F(FsTest, ReadMissingIsNotFound) {
  auto r = fs::ReadFile(fs::Join(dir_, "missing"));
  EXPECT_EQ(r.status().code(), Code::kNotFound);
}

TEST_F(FsTest, ReadRespectsSizeLimit) {
  std::string p = fs::Join(dir_, "big");
  ASSERT_TRUE(fs::AtomicWriteFile(p, std::string(1000, 'x')).ok());
  EXPECT_EQ(fs::ReadFile(p, 100).status().code(), Code::kInvalidArgument);
}

TEST_F(FsTest, ConcurrentAppendsNeverInterleave) {
  std::string p = fs::Join(dir_, "m.jsonl");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) ASSERT_TRUE(fs::AppendLine(p, std::string(300, 'a' + t)).ok());
    });
  }
  for (auto& t : ts) t.join();
  auto r = fs::ReadFile(p);
  ASSERT_TRUE(r.ok());
  size_t lines = 0, pos = 0;
  while (pos < r->size()) {
    size_t nl = r->find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    std::string line = r->substr(pos, nl - pos);
    ASSERT_EQ(line, std::string(300, line[0]));
    ++lines;
    pos = nl + 1;
  }
  EXPECT_EQ(lines, 800u);
}

TEST_F(FsTest, MakeDirExclusiveClaimsOnce) {
  std::string p = fs::Join(dir_, "run");
  EXPECT_TRUE(fs::MakeDirExclusive(p).ok());
  EXPECT_EQ(fs::MakeDirExclusive(p).code(), Code::kFailedPrecondition);
}

TEST(FsPath, JoinDirnameBasename) {
  EXPECT_EQ(fs::Join("a", "b"), "a/b");
  EXPECT_EQ(fs::Join("a/", "b"), "a/b");
  EXPECT_EQ(fs::Join("a", "/abs"), "/abs");
  EXPECT_EQ(fs::Dirname("/x/y/z"), "/x/y");
  EXPECT_EQ(fs::Dirname("z"), ".");
  EXPECT_EQ(fs::Basename("/x/y/z"), "z");
}

}  // namespace
}  // namespace hpcai
