// Every kind of bad dataset gives one clear Status naming the file and the problem.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

#include "hpcai/io/dataset.h"
#include "hpcai/io/reader.h"
#include "io/test_data_util.h"

namespace hpcai::io {
namespace {

namespace t = hpcai::testing;

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = t::TempDir(std::string("bad_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    dir_ = root_ + "/ds";
    // 3 shards x 100 samples of 8 floats, chunks of 25 rows.
    ASSERT_TRUE(t::WriteIndexDataset(dir_, 300, 8, 4, 100, 25).ok());
  }
  void TearDown() override { (void)fs::RemoveAll(root_); }

  // The error of opening (cache mode: reads everything) or, if that succeeds,
  // of reading one stream-mode epoch.
  Status OpenAndRead(ReadMode mode, const std::string& x = "x", const std::string& y = "y", bool map_rows = true) {
    ReaderOptions o;
    o.map_rows = map_rows;
    o.global_batch = 32;
    o.mode = mode;
    o.x_name = x;
    o.y_name = y;
    auto r = ShardReader::Open(dir_, o);
    if (!r.ok()) return r.status();
    (*r)->Seek(0, 0);
    Batch b;
    while (true) {
      auto more = (*r)->Next(&b);
      if (!more.ok()) return more.status();
      if (!*more) return Status::OK();
    }
  }
  std::string Shard(int i) { return dir_ + "/shard-0000" + std::to_string(i) + ".h5"; }

  std::string root_, dir_;
};

#define EXPECT_ERROR(status, want, ...)                                              \
  do {                                                                               \
    Status _s = (status);                                                            \
    EXPECT_EQ(_s.code(), want) << _s.ToString();                                     \
    for (const char* _part : {__VA_ARGS__}) {                                        \
      EXPECT_NE(_s.message().find(_part), std::string::npos)                        \
          << "message lacks '" << _part << "': " << _s.message();                    \
    }                                                                                \
  } while (0)

TEST_F(BadInputTest, GoodDatasetReads) {
  EXPECT_TRUE(OpenAndRead(ReadMode::kCache).ok());
  EXPECT_TRUE(OpenAndRead(ReadMode::kStream).ok());
  EXPECT_TRUE(VerifyDataset(*ReadDatasetInfo(dir_)).ok());
}

TEST_F(BadInputTest, MissingDirectory) {
  EXPECT_ERROR(ReadDatasetInfo(root_ + "/nope").status(), Code::kNotFound, "nope", "does not exist");
}

TEST_F(BadInputTest, MissingManifest) {
  ASSERT_EQ(::unlink((dir_ + "/manifest.json").c_str()), 0);
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache), Code::kNotFound, "manifest.json", "hpcai data convert");
}

TEST_F(BadInputTest, ManifestNotJson) {
  ASSERT_TRUE(fs::AtomicWriteFile(dir_ + "/manifest.json", "{\"format_version\": 1,").ok());
  EXPECT_ERROR(ReadDatasetInfo(dir_).status(), Code::kCorrupt, "manifest.json", "JSON");
}

TEST_F(BadInputTest, MissingShard) {
  ASSERT_EQ(::unlink(Shard(1).c_str()), 0);
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache), Code::kNotFound, "shard-00001.h5", "does not exist");
}

TEST_F(BadInputTest, ManifestCountDisagreesWithShard) {
  ASSERT_TRUE(t::EditFile(dir_ + "/manifest.json", "\"num_samples\": 300", "\"num_samples\": 310"));
  EXPECT_ERROR(ReadDatasetInfo(dir_).status(), Code::kCorrupt, "manifest.json", "300");
  // Shard 2's entry (and the total) claim 90 samples; its file holds 100.
  ASSERT_TRUE(t::EditFile(dir_ + "/manifest.json", "\"num_samples\": 310", "\"num_samples\": 290"));
  auto text = fs::ReadFile(dir_ + "/manifest.json");
  ASSERT_TRUE(text.ok());
  size_t q = text->find("\"num_samples\": 100", text->find("shard-00002.h5"));
  ASSERT_NE(q, std::string::npos);
  text->replace(q, 18, "\"num_samples\": 90");
  ASSERT_TRUE(fs::AtomicWriteFile(dir_ + "/manifest.json", *text).ok());
  EXPECT_ERROR(ReadDatasetInfo(dir_).status(), Code::kCorrupt, "shard-00002.h5", "holds 100", "says 90");
}

TEST_F(BadInputTest, ShapeDiffersBetweenShards) {
  ASSERT_TRUE(t::WriteIndexDataset(root_ + "/other", 300, 9, 4, 100, 25).ok());
  ASSERT_TRUE(t::CopyFile(root_ + "/other/shard-00001.h5", Shard(1)));
  EXPECT_ERROR(OpenAndRead(ReadMode::kStream), Code::kCorrupt, "shard-00001.h5", "[9]", "[8]", "shard-00000.h5");
}

TEST_F(BadInputTest, DtypeDiffersBetweenShards) {
  DatasetLayout layout;
  layout.sample_shape = {8};
  layout.dtype = "uint8";
  layout.scale = 1.0f;
  layout.num_classes = 4;
  layout.samples_per_shard = 100;
  auto w = DatasetWriter::Create(root_ + "/u8", layout, 300);
  ASSERT_TRUE(w.ok());
  std::vector<uint8_t> x(300 * 8, 1);
  std::vector<int32_t> y(300, 1);
  ASSERT_TRUE((*w)->Append(x.data(), y.data(), 300).ok());
  ASSERT_TRUE((*w)->Finish().ok());
  ASSERT_TRUE(t::CopyFile(root_ + "/u8/shard-00002.h5", Shard(2)));
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache), Code::kCorrupt, "shard-00002.h5", "uint8", "float32");
}

TEST_F(BadInputTest, LabelsOutOfRange) {
  // Labels are 0..3; claim 3 classes.
  ASSERT_TRUE(t::EditFile(dir_ + "/manifest.json", "\"num_classes\": 4", "\"num_classes\": 3"));
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache), Code::kCorrupt, "shard-00000.h5", "label 3", "[0, 3)");
  EXPECT_ERROR(OpenAndRead(ReadMode::kStream), Code::kCorrupt, "label 3", "[0, 3)");
  EXPECT_ERROR(InspectDataset(dir_).status(), Code::kCorrupt, "shard-00000.h5", "label 3");
}

TEST_F(BadInputTest, TruncatedShard) {
  ASSERT_TRUE(t::Truncate(Shard(1), t::FileSize(Shard(1)) / 2));
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache), Code::kCorrupt, "shard-00001.h5", "truncated");
  EXPECT_ERROR(OpenAndRead(ReadMode::kStream), Code::kCorrupt, "shard-00001.h5");
  // --verify names it too (the manifest alone is enough to know the digests).
  DatasetInfo info;
  info.dir = dir_;
  auto m = Json::Parse(*fs::ReadFile(dir_ + "/manifest.json"));
  for (const auto& e : m->get("shards").as_array()) {
    info.shards.push_back({e.get("file").as_string(), 0, e.get("sha256").as_string()});
  }
  EXPECT_ERROR(VerifyDataset(info), Code::kCorrupt, "shard-00001.h5", "sha256");
}

TEST_F(BadInputTest, FlippedByteInData) {
  int64_t at = t::ChunkAddress(Shard(2), "x", 1);
  ASSERT_GT(at, 0);
  ASSERT_TRUE(t::FlipByte(Shard(2), at));
  // Header validation still passes; reading the chunk fails its Fletcher-32 checksum.
  EXPECT_TRUE(ReadDatasetInfo(dir_).ok());
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache), Code::kCorrupt, "shard-00002.h5", "rows");
  // Stream mode checks the chunk itself (the shard is mapped) or through HDF5.
  EXPECT_ERROR(OpenAndRead(ReadMode::kStream), Code::kCorrupt, "shard-00002.h5", "rows [25, 50)", "Fletcher-32");
  EXPECT_ERROR(OpenAndRead(ReadMode::kStream, "x", "y", /*map_rows=*/false), Code::kCorrupt, "shard-00002.h5",
               "rows [25, 50)");
  EXPECT_ERROR(VerifyDataset(*ReadDatasetInfo(dir_)), Code::kCorrupt, "shard-00002.h5", "sha256");
}

TEST_F(BadInputTest, AShardThatShrinksUnderAMappedReaderIsAnErrorNotACrash) {
  // Stream mode maps the shards; a shard truncated in place while a job reads
  // it (`cp` over it, say) would otherwise end the process with SIGBUS.
  for (int prefetch : {0, 2}) {
    ASSERT_TRUE(t::WriteIndexDataset(dir_, 300, 8, 4, 100, 25).ok());
    ReaderOptions o;
    o.global_batch = 25;
    o.mode = ReadMode::kStream;
    o.window_chunks = 1;
    o.shuffle = false;  // shard 0's chunks first, then 1, then 2
    o.prefetch = prefetch;
    auto r = ShardReader::Open(dir_, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ((*r)->mapped_shards(), 3);
    (*r)->Seek(0, 0);
    Batch b;
    auto more = (*r)->Next(&b);
    ASSERT_TRUE(more.ok() && *more) << more.status().ToString();
    ASSERT_TRUE(t::Truncate(Shard(2), t::FileSize(Shard(2)) / 3));
    Status st;
    int delivered = 1;
    while (st.ok()) {
      more = (*r)->Next(&b);
      st = more.status();
      if (st.ok() && !*more) break;
      if (st.ok()) {
        // Every batch handed out is real data (none of the zeros the
        // vanished pages read as): batch k holds samples 25k .. 25k+24.
        for (int64_t i = 0; i < b.local_size; ++i) ASSERT_EQ(b.y[static_cast<size_t>(i)], t::IndexLabel(delivered * 25 + i, 4));
        ++delivered;
      }
    }
    EXPECT_ERROR(st, Code::kCorrupt, "shard-00002.h5", "shrank while this job read it");
    EXPECT_LE(delivered, 9) << "batches of shard 2 were delivered";
  }
}

TEST_F(BadInputTest, ASigbusOutsideTheMappingsStillKillsTheProcess) {
  // The handler installed for mapped shards passes other SIGBUS on: here the
  // default action, so the process dies as it would have without hpcai.
  EXPECT_EXIT(
      {
        ReaderOptions o;
        o.mode = ReadMode::kStream;
        auto r = ShardReader::Open(dir_, o);
        if (!r.ok() || (*r)->mapped_shards() == 0) std::exit(3);
        ::raise(SIGBUS);
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGBUS), "");
}

TEST_F(BadInputTest, FlippedByteInLabels) {
  int64_t at = t::ChunkAddress(Shard(0), "y", 3);
  ASSERT_GT(at, 0);
  ASSERT_TRUE(t::FlipByte(Shard(0), at));
  EXPECT_ERROR(OpenAndRead(ReadMode::kStream), Code::kCorrupt, "shard-00000.h5", "rows [75, 100)");
}

TEST_F(BadInputTest, FlippedByteInHeader) {
  ASSERT_TRUE(t::FlipByte(Shard(1), 20));  // inside the (checksummed) superblock
  EXPECT_ERROR(ReadDatasetInfo(dir_).status(), Code::kCorrupt, "shard-00001.h5");
  ASSERT_TRUE(t::FlipByte(Shard(1), 20));
  ASSERT_TRUE(t::FlipByte(Shard(1), 2));  // the HDF5 signature itself
  EXPECT_ERROR(ReadDatasetInfo(dir_).status(), Code::kCorrupt, "shard-00001.h5", "not an HDF5 file");
}

TEST_F(BadInputTest, NotAnHdf5File) {
  ASSERT_TRUE(fs::AtomicWriteFile(Shard(0), "hello, I am text\n").ok());
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache), Code::kCorrupt, "shard-00000.h5", "not an HDF5 file");
}

TEST_F(BadInputTest, WrongDatasetNames) {
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache, "images", "y"), Code::kCorrupt, "shard-00000.h5", "'images'", "x, y");
  EXPECT_ERROR(OpenAndRead(ReadMode::kCache, "x", "labels"), Code::kCorrupt, "'labels'");
}

TEST_F(BadInputTest, BatchLargerThanDatasetWithDropLast) {
  ReaderOptions o;
  o.global_batch = 1000;
  o.drop_last = true;
  EXPECT_ERROR(ShardReader::Open(dir_, o).status(), Code::kInvalidArgument, "300 samples", "1000");
}

TEST_F(BadInputTest, NewerFormatVersionRejected) {
  ASSERT_TRUE(t::EditFile(dir_ + "/manifest.json", "\"format_version\": 1", "\"format_version\": 7"));
  EXPECT_ERROR(ReadDatasetInfo(dir_).status(), Code::kCorrupt, "format_version 7");
}

TEST_F(BadInputTest, ErrorsAreNotPrintedByHdf5) {
  // HDF5's own error stack must not reach stderr: failures are Status only.
  ASSERT_TRUE(t::Truncate(Shard(1), 100));
  ::testing::internal::CaptureStderr();
  Status s = OpenAndRead(ReadMode::kCache);
  std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(err, "");
}

}  // namespace
}  // namespace hpcai::io
