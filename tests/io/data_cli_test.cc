// `hpcai data` end to end through the real binary ($HPCAI_BIN_DIR/hpcai).
#include <gtest/gtest.h>

#include "hpcai/base/json.h"
#include "io/test_data_util.h"

namespace hpcai {
namespace {

namespace t = hpcai::testing;

// $HPCAI_BIN_DIR/hpcai, else next to this test binary (both live in build/bin).
std::string Hpcai() {
  const char* bin = std::getenv("HPCAI_BIN_DIR");
  return (bin && *bin ? std::string(bin) : fs::Dirname(fs::SelfExe())) + "/hpcai";
}

TEST(DataCli, SynthInspectVerify) {
  std::string root = t::TempDir("cli");
  std::string out;
  ASSERT_EQ(t::RunCommand(Hpcai() + " data synth --samples 2000 --features 12 --classes 3 --shards 2 --seed 5 --out " +
                              root + "/syn",
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("2000 synthetic samples"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no progress bar without a terminal";
  out.clear();
  ASSERT_EQ(t::RunCommand(Hpcai() + " data inspect --json --verify " + root + "/syn", &out), 0) << out;
  auto j = Json::Parse(out);
  ASSERT_TRUE(j.ok()) << out;
  EXPECT_EQ(j->get("num_samples").as_int(), 2000);
  EXPECT_EQ(j->get("shards").as_array().size(), 2u);
  EXPECT_TRUE(j->get("verified").as_bool());
  int64_t total = 0;
  for (const auto& c : j->get("label_counts").as_array()) total += c.as_int();
  EXPECT_EQ(total, 2000);
  // Damage the second shard: --verify names it and exits 3 (data error).
  const std::string shard1 = root + "/syn/shard-00001.h5";
  ASSERT_TRUE(t::FlipByte(shard1, t::ChunkAddress(shard1, "x", 0)));
  out.clear();
  EXPECT_EQ(t::RunCommand(Hpcai() + " data inspect " + root + "/syn", &out), 0) << "x is not read without --verify";
  out.clear();
  EXPECT_EQ(t::RunCommand(Hpcai() + " data inspect --verify " + root + "/syn", &out), 3) << out;
  EXPECT_NE(out.find("shard-00001.h5: sha256"), std::string::npos) << out;
  // Damaged labels are found while building the histogram, with the shard named.
  ASSERT_TRUE(t::FlipByte(shard1, t::ChunkAddress(shard1, "x", 0)));
  ASSERT_TRUE(t::FlipByte(shard1, t::ChunkAddress(shard1, "y", 0)));
  out.clear();
  EXPECT_EQ(t::RunCommand(Hpcai() + " data inspect " + root + "/syn", &out), 3) << out;
  EXPECT_NE(out.find("shard-00001.h5: reading rows"), std::string::npos) << out;
  EXPECT_NE(out.find("Fletcher32"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(t::RunCommand(Hpcai() + " data inspect " + root + "/nothing-here", &out), 3) << out;
  EXPECT_NE(out.find("does not exist"), std::string::npos) << out;
  (void)fs::RemoveAll(root);
}

TEST(DataCli, BenchReportsTheMappingAndHonoursNoMap) {
  // `hpcai data bench` in stream mode: a default dataset (Fletcher-32
  // chunks) is read through a mapping of each shard, --no-map through H5Dread;
  // both deliver every sample (the ratio fields are measured, not checked).
  std::string root = t::TempDir("cli_bench");
  std::string out;
  ASSERT_EQ(t::RunCommand(Hpcai() + " data synth -q --samples 3000 --features 16 --classes 4 --shards 3 --out " +
                              root + "/syn",
                          &out),
            0)
      << out;
  for (bool no_map : {false, true}) {
    out.clear();
    ASSERT_EQ(t::RunCommand(Hpcai() + " data bench --mode stream --repeats 2 --batch 100 --json" +
                                (no_map ? " --no-map " : " ") + root + "/syn",
                            &out),
              0)
        << out;
    auto j = Json::Parse(out);
    ASSERT_TRUE(j.ok()) << out;
    EXPECT_EQ(j->get("mode").as_string(), "stream");
    EXPECT_EQ(j->get("map_rows").as_bool(), !no_map);
    EXPECT_EQ(j->get("mapped_shards").as_int(), no_map ? 0 : 3) << out;
    EXPECT_GT(j->get("reader_mb_s").as_double(), 0.0);
    EXPECT_GT(j->get("first_epoch_mb_s").as_double(), 0.0);
    EXPECT_GT(j->get("raw_mb_s").as_double(), 0.0);
  }
  (void)fs::RemoveAll(root);
}

TEST(DataCli, ConvertSummaryAndUsageErrors) {
  std::string root = t::TempDir("cli_conv");
  std::string out;
  ASSERT_EQ(t::RunCommand(Hpcai() + " data synth -q --samples 500 --shape 1,4,4 --classes 2 --out " + root + "/a", &out),
            0)
      << out;
  out.clear();
  ASSERT_EQ(t::RunCommand(Hpcai() + " data convert --from hdf5 " + root + "/a --out " + root +
                              "/b --split val=0.2 --compress gzip --chunk-samples 32",
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("converted 500 samples"), std::string::npos) << out;
  EXPECT_NE(out.find("MB/s"), std::string::npos) << out;
  EXPECT_TRUE(fs::Exists(root + "/b/train/manifest.json"));
  EXPECT_TRUE(fs::Exists(root + "/b/val/manifest.json"));
  out.clear();
  // inspect on the parent directory shows both datasets.
  ASSERT_EQ(t::RunCommand(Hpcai() + " data inspect " + root + "/b", &out), 0) << out;
  EXPECT_NE(out.find("400 in 1 shard"), std::string::npos) << out;
  EXPECT_NE(out.find("100 in 1 shard"), std::string::npos) << out;
  out.clear();
  EXPECT_EQ(t::RunCommand(Hpcai() + " data convert --from idx " + root + "/a --out " + root + "/c", &out), 3) << out;
  out.clear();
  EXPECT_EQ(t::RunCommand(Hpcai() + " data convert --from xls in --out " + root + "/c", &out), 2) << out;
  out.clear();
  EXPECT_EQ(t::RunCommand(Hpcai() + " data convert --from hdf5 " + root + "/a --out " + root + "/d --split val", &out), 2)
      << out;
  EXPECT_NE(out.find("NAME=FRACTION"), std::string::npos) << out;
  (void)fs::RemoveAll(root);
}

}  // namespace
}  // namespace hpcai
