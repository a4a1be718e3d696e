// run.json round trip, run-id claiming under concurrency, index listing and
// reference resolution (id, name, prefix, sweeps).
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <thread>

#include "hpcai/base/fs.h"
#include "hpcai/slurm/registry.h"
#include "slurm/slurm_test_util.h"

namespace hpcai::slurm {
namespace {

TEST(RunRecord, JsonRoundTrip) {
  RunRecord r;
  r.run_id = "a-20240101-000000-abcd";
  r.name = "a";
  r.created = "2024-01-01T00:00:00Z";
  r.backend = "slurm";
  r.spec_hash = "ff";
  r.sweep_id = "s";
  r.sweep_index = 2;
  Attempt at;
  at.job_id = "12_2";
  at.backend = "slurm";
  at.state = "FAILED";
  at.exit = 3;
  at.restarts = 1;
  at.nodes = 2;
  at.elapsed_s = 61;
  r.attempts.push_back(at);
  r.cancels.push_back({"t", "12_2", "USR1"});
  auto back = RunRecord::FromJson(r.ToJson());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->ToJson(), r.ToJson());
  EXPECT_EQ(back->attempts[0].exit, 3);
  EXPECT_EQ(back->sweep_index, 2);
  EXPECT_EQ(back->cancels[0].signal, "USR1");
}

TEST(RunRecord, RejectsUnknownFormatAndMissingId) {
  Json j = RunRecord().ToJson();
  j.set("run_id", "x");
  j.set("format", 2);
  auto r = RunRecord::FromJson(j);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("format 2"), std::string::npos);
  j.set("format", 1);
  j.set("run_id", "");
  EXPECT_FALSE(RunRecord::FromJson(j).ok());
}

TEST(RunRecord, LoadReportsMissingAndCorrupt) {
  std::string dir = testing::MakeTempDir("rec");
  EXPECT_EQ(LoadRunRecord(dir + "/gone").status().code(), Code::kNotFound);
  ASSERT_TRUE(fs::AtomicWriteFile(dir + "/run.json", "{not json").ok());
  auto r = LoadRunRecord(dir);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("run.json"), std::string::npos);
  (void)fs::RemoveAll(dir);
}

TEST(Registry, ConcurrentClaimsAreUnique) {
  std::string dir = testing::MakeTempDir("claim");
  Registry reg(dir + "/home");
  std::vector<std::set<std::string>> got(8);
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string d;
        auto id = reg.ClaimRunId(dir + "/runs", "same", &d);
        if (id.ok()) got[t].insert(*id);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::set<std::string> all;
  for (auto& g : got) all.insert(g.begin(), g.end());
  EXPECT_EQ(all.size(), 400u);
  auto names = fs::ListDir(dir + "/runs");
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 400u);
  for (const auto& id : all) {
    EXPECT_EQ(id.rfind("same-", 0), 0u);
    EXPECT_EQ(id.size(), std::string("same-20240101-000000-abcd").size()) << id;
  }
  (void)fs::RemoveAll(dir);
}

// Submission renders its script for a candidate id, then claims exactly that
// id: a second claim of the same id must fail (and say so), not reuse it.
TEST(Registry, CandidateIdsAreClaimedExclusively) {
  std::string dir = testing::MakeTempDir("claimdir");
  std::string id = Registry::CandidateRunId("exp.v1");
  ASSERT_EQ(id.size(), std::string("exp.v1-20240101-000000-abcd").size()) << id;
  EXPECT_EQ(id.rfind("exp.v1-", 0), 0u) << id;
  for (size_t i = id.size() - 4; i < id.size(); ++i) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(id[i]))) << id;
  EXPECT_EQ(id[id.size() - 5], '-') << id;
  EXPECT_EQ(id[id.size() - 12], '-') << id;

  ASSERT_TRUE(Registry::ClaimRunDir(dir + "/new/runs", id).ok());  // creates the parent too
  EXPECT_TRUE(fs::IsDir(dir + "/new/runs/" + id));
  Status again = Registry::ClaimRunDir(dir + "/new/runs", id);
  EXPECT_EQ(again.code(), Code::kFailedPrecondition) << again.message();
  // A parent that cannot be created is an error of its own kind.
  ASSERT_TRUE(fs::AtomicWriteFile(dir + "/file", "x").ok());
  Status bad = Registry::ClaimRunDir(dir + "/file/runs", id);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.code(), Code::kFailedPrecondition) << bad.message();
  (void)fs::RemoveAll(dir);
}

TEST(Registry, IndexListSkipsTempFiles) {
  std::string dir = testing::MakeTempDir("index");
  Registry reg(dir);
  EXPECT_TRUE(reg.List()->empty());  // no index yet: empty, not an error
  ASSERT_TRUE(reg.AddToIndex({"b-1", "/r/b-1", "b", "run"}).ok());
  ASSERT_TRUE(reg.AddToIndex({"a-1", "/r/a-1", "a", "sweep"}).ok());
  ASSERT_TRUE(fs::AtomicWriteFile(dir + "/index/c-1.tmp.1.2", "/x\nc\nrun\n").ok());
  auto l = reg.List();
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].id, "a-1");
  EXPECT_EQ((*l)[0].kind, "sweep");
  EXPECT_EQ((*l)[1].dir, "/r/b-1");
  EXPECT_EQ((*l)[1].name, "b");
  (void)fs::RemoveAll(dir);
}

TEST(Registry, ResolveIdNamePrefixSweep) {
  std::vector<IndexEntry> e = {
      {"mnist-20240101-000000-aaaa", "/r/1", "mnist", "run"},
      {"mnist-20240102-000000-bbbb", "/r/2", "mnist", "run"},
      {"lr-20240101-000000-cccc", "/r/s", "lr", "sweep"},
      {"lr-20240101-000000-cccc_0", "/r/s/0", "lr-0", "run"},
      {"lr-20240101-000000-cccc_1", "/r/s/1", "lr-1", "run"},
  };
  EXPECT_EQ(Registry::ResolveIn(e, "mnist-20240101-000000-aaaa")->dir, "/r/1");
  EXPECT_EQ(Registry::ResolveIn(e, "mnist")->id, "mnist-20240102-000000-bbbb");  // latest of the name
  EXPECT_EQ(Registry::ResolveIn(e, "mnist-20240101")->id, "mnist-20240101-000000-aaaa");
  EXPECT_EQ(Registry::ResolveIn(e, "lr-1")->id, "lr-20240101-000000-cccc_1");   // a task by its name
  EXPECT_EQ(Registry::ResolveIn(e, "lr-2024")->id, "lr-20240101-000000-cccc");  // prefix: the sweep
  EXPECT_EQ(Registry::ResolveIn(e, "lr-20240101-000000-cccc_0")->dir, "/r/s/0");
  auto amb = Registry::ResolveIn(e, "mnist-2024");
  ASSERT_FALSE(amb.ok());
  EXPECT_EQ(amb.status().code(), Code::kInvalidArgument);
  EXPECT_NE(amb.status().message().find("matches 2 runs"), std::string::npos);
  auto none = Registry::ResolveIn(e, "resnet");
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_NE(none.status().message().find("hpcai status --all"), std::string::npos);
}

}  // namespace
}  // namespace hpcai::slurm
