// ShardReader in one process: order, rank slices, prefetch, streaming, seek.
#include "hpcai/io/reader.h"

#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <numeric>
#include <chrono>
#include <set>
#include <thread>

#include "hpcai/base/rng.h"
#include "io/test_data_util.h"

namespace hpcai::io {
namespace {

using hpcai::testing::IndexFeature;
using hpcai::testing::IndexLabel;

constexpr int64_t kN = 1000, kF = 6;
constexpr int kClasses = 5;

class ReaderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(hpcai::testing::TempDir("reader"));
    // 3 shards of 400/400/200 samples, chunks of 64 rows: uneven tails everywhere.
    ASSERT_TRUE(hpcai::testing::WriteIndexDataset(*dir_, kN, kF, kClasses, 400, 64).ok());
  }
  static void TearDownTestSuite() {
    (void)fs::RemoveAll(*dir_);
    delete dir_;
  }
  static std::string* dir_;

  static ReaderOptions Opts(ReadMode mode, int64_t batch, int rank = 0, int world = 1, int prefetch = 2) {
    ReaderOptions o;
    o.global_batch = batch;
    o.rank = rank;
    o.world_size = world;
    o.seed = 42;
    o.prefetch = prefetch;
    o.mode = mode;
    o.window_chunks = 3;
    return o;
  }
  // All batches of one epoch.
  static std::vector<Batch> Epoch(ShardReader& r, int64_t epoch) {
    r.Seek(epoch, 0);
    std::vector<Batch> out;
    Batch b;
    while (true) {
      auto more = r.Next(&b);
      EXPECT_TRUE(more.ok()) << more.status().ToString();
      if (!more.ok() || !*more) break;
      out.push_back(b);
    }
    return out;
  }
  // Epochs 0 and 1 of two readers of one dataset (global batch `batch`) are
  // the same batches, and those hold the samples of `a`'s epoch order.
  static void ExpectSameEpochs(ShardReader& a, ShardReader& b, int64_t batch, const std::string& what) {
    for (int64_t e : {0, 1}) {
      auto x = Epoch(a, e);
      auto y = Epoch(b, e);
      ASSERT_EQ(x.size(), y.size()) << what;
      auto order = a.EpochOrder(e);
      for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(x[i].x, y[i].x) << what << " epoch " << e << " batch " << i;
        EXPECT_EQ(x[i].y, y[i].y) << what;
        const int64_t first = x[i].step_in_epoch * batch + x[i].local_offset;
        ExpectSamples(x[i], std::vector<int64_t>(order.begin() + first, order.begin() + first + x[i].local_size));
      }
    }
  }
  // Checks a batch's contents are the samples at the given dataset indices.
  static void ExpectSamples(const Batch& b, const std::vector<int64_t>& idx) {
    ASSERT_EQ(b.local_size, static_cast<int64_t>(idx.size()));
    ASSERT_EQ(b.x.size(), idx.size() * kF);
    for (size_t k = 0; k < idx.size(); ++k) {
      ASSERT_EQ(b.y[k], IndexLabel(idx[k], kClasses));
      for (int64_t j = 0; j < kF; ++j) ASSERT_EQ(b.x[k * kF + j], IndexFeature(idx[k], j)) << "sample " << idx[k];
    }
  }
};
std::string* ReaderTest::dir_ = nullptr;

TEST(ShufflePermutation, IsTheDocumentedFisherYates) {
  auto p = ShufflePermutation(100, 7, 3);
  std::vector<int64_t> q(100);
  std::iota(q.begin(), q.end(), 0);
  Rng rng(MixSeed(7, 3));
  for (int64_t i = 99; i > 0; --i) std::swap(q[i], q[rng.Below(i + 1)]);
  EXPECT_EQ(p, q);
  EXPECT_NE(ShufflePermutation(100, 7, 4), p);
  EXPECT_NE(ShufflePermutation(100, 8, 3), p);
}

TEST_F(ReaderTest, InfoFromManifest) {
  auto info = ReadDatasetInfo(*dir_);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->num_samples, kN);
  EXPECT_EQ(info->shards.size(), 3u);
  EXPECT_EQ(info->shards[2].num_samples, 200);
  EXPECT_EQ(info->sample_shape, std::vector<int64_t>{kF});
  EXPECT_EQ(info->num_classes, kClasses);
  EXPECT_EQ(info->chunk_samples, 64);
  EXPECT_EQ(info->shards[0].sha256.size(), 64u);
}

TEST_F(ReaderTest, CacheModeFollowsTheEpochPermutation) {
  auto r = ShardReader::Open(*dir_, Opts(ReadMode::kAuto, 128));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->mode(), ReadMode::kCache);
  EXPECT_EQ((*r)->steps_per_epoch(), 8);  // 7 full + a partial batch of 104
  for (int64_t e : {0, 1}) {
    auto order = ShufflePermutation(kN, 42, e);
    EXPECT_EQ((*r)->EpochOrder(e), order);
    auto batches = Epoch(**r, e);
    ASSERT_EQ(batches.size(), 8u);
    for (size_t b = 0; b < batches.size(); ++b) {
      int64_t n = std::min<int64_t>(128, kN - 128 * static_cast<int64_t>(b));
      EXPECT_EQ(batches[b].global_size, n);
      EXPECT_EQ(batches[b].epoch, e);
      EXPECT_EQ(batches[b].step_in_epoch, static_cast<int64_t>(b));
      ExpectSamples(batches[b], std::vector<int64_t>(order.begin() + 128 * b, order.begin() + 128 * b + n));
    }
  }
}

TEST_F(ReaderTest, StreamModeIsAPermutationPerEpochAndDiffersByEpoch) {
  auto r = ShardReader::Open(*dir_, Opts(ReadMode::kStream, 100));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ((*r)->mode(), ReadMode::kStream);
  std::vector<int64_t> prev;
  for (int64_t e : {0, 1, 2}) {
    auto order = (*r)->EpochOrder(e);
    std::vector<int64_t> sorted = order;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(kN);
    std::iota(all.begin(), all.end(), 0);
    ASSERT_EQ(sorted, all) << "epoch " << e << " is not a permutation";
    EXPECT_NE(order, prev);
    EXPECT_NE(order, all);  // it is shuffled
    auto batches = Epoch(**r, e);
    ASSERT_EQ(batches.size(), 10u);
    for (size_t b = 0; b < batches.size(); ++b) {
      ExpectSamples(batches[b], std::vector<int64_t>(order.begin() + 100 * b, order.begin() + 100 * (b + 1)));
    }
    prev = order;
  }
}

TEST_F(ReaderTest, StreamWindowsHoldWholeChunks) {
  // With window_chunks = 3, the first 3 * 64 positions come from 3 chunks only.
  auto r = ShardReader::Open(*dir_, Opts(ReadMode::kStream, 100));
  ASSERT_TRUE(r.ok());
  auto order = (*r)->EpochOrder(0);
  std::set<int64_t> chunks;
  for (int64_t p = 0; p < 3 * 64; ++p) {
    int64_t g = order[p];
    int64_t shard = g / 400, row = g % 400;
    chunks.insert(shard * 100 + row / 64);
  }
  EXPECT_LE(chunks.size(), 3u);
}

TEST_F(ReaderTest, RankSlicesConcatenateToTheGlobalBatch) {
  for (ReadMode mode : {ReadMode::kCache, ReadMode::kStream}) {
    auto one = ShardReader::Open(*dir_, Opts(mode, 97));
    ASSERT_TRUE(one.ok());
    auto global = Epoch(**one, 1);
    for (int world : {2, 3, 4}) {
      std::vector<std::vector<Batch>> per_rank;
      for (int r = 0; r < world; ++r) {
        auto rr = ShardReader::Open(*dir_, Opts(mode, 97, r, world));
        ASSERT_TRUE(rr.ok());
        EXPECT_EQ((*rr)->EpochOrder(1), (*one)->EpochOrder(1));
        per_rank.push_back(Epoch(**rr, 1));
        ASSERT_EQ(per_rank.back().size(), global.size());
      }
      for (size_t b = 0; b < global.size(); ++b) {
        std::vector<float> x;
        std::vector<int32_t> y;
        int64_t expect_offset = 0;
        for (int r = 0; r < world; ++r) {
          const Batch& lb = per_rank[r][b];
          EXPECT_EQ(lb.global_size, global[b].global_size);
          EXPECT_EQ(lb.local_offset, expect_offset);
          EXPECT_EQ(lb.local_size, (r + 1) * lb.global_size / world - r * lb.global_size / world);
          expect_offset += lb.local_size;
          x.insert(x.end(), lb.x.begin(), lb.x.end());
          y.insert(y.end(), lb.y.begin(), lb.y.end());
        }
        EXPECT_EQ(x, global[b].x) << "world " << world << " batch " << b;
        EXPECT_EQ(y, global[b].y);
      }
    }
  }
}

TEST_F(ReaderTest, RanksSkippingWholeWindowsStillGetTheirSamples) {
  // One-chunk windows (64 rows) and slices of 100 rows every 500 positions:
  // each rank's read-ahead loader has to pass over windows it never uses.
  ReaderOptions single = Opts(ReadMode::kStream, 500);
  single.window_chunks = 1;
  auto one = ShardReader::Open(*dir_, single);
  ASSERT_TRUE(one.ok());
  auto global = Epoch(**one, 0);
  for (int r = 0; r < 5; ++r) {
    ReaderOptions o = Opts(ReadMode::kStream, 500, r, 5, /*prefetch=*/2);
    o.window_chunks = 1;
    auto rr = ShardReader::Open(*dir_, o);
    ASSERT_TRUE(rr.ok());
    for (int64_t e : {0, 1}) {
      auto mine = Epoch(**rr, e);
      if (e == 1) continue;  // epoch 1 only checks that reading on does not stall
      ASSERT_EQ(mine.size(), global.size());
      for (size_t b = 0; b < mine.size(); ++b) {
        const int64_t lo = mine[b].local_offset;
        EXPECT_EQ(mine[b].x, std::vector<float>(global[b].x.begin() + lo * kF,
                                                global[b].x.begin() + (lo + mine[b].local_size) * kF));
      }
    }
  }
}

TEST_F(ReaderTest, PrefetchDoesNotChangeBatches) {
  for (ReadMode mode : {ReadMode::kCache, ReadMode::kStream}) {
    auto sync = ShardReader::Open(*dir_, Opts(mode, 64, 1, 3, /*prefetch=*/0));
    auto pre = ShardReader::Open(*dir_, Opts(mode, 64, 1, 3, /*prefetch=*/3));
    ASSERT_TRUE(sync.ok() && pre.ok());
    for (int64_t e : {0, 1, 2}) {
      auto a = Epoch(**sync, e);
      auto b = Epoch(**pre, e);
      ASSERT_EQ(a.size(), b.size());
      for (size_t i = 0; i < a.size(); ++i) {
        EXPECT_EQ(a[i].x, b[i].x);
        EXPECT_EQ(a[i].y, b[i].y);
        EXPECT_EQ(a[i].step_in_epoch, b[i].step_in_epoch);
      }
    }
    EXPECT_GE((*pre)->TakeStallSeconds(), 0.0);
    EXPECT_EQ((*pre)->TakeStallSeconds(), 0.0);  // reset by the previous call
  }
}

TEST_F(ReaderTest, GatherThreadsDoNotChangeBatches) {
  // Rows split across 1 + 2 helper threads (every batch, however small)
  // land exactly where one thread puts them, with and without prefetch.
  for (ReadMode mode : {ReadMode::kCache, ReadMode::kStream}) {
    for (int prefetch : {0, 2}) {
      ReaderOptions one = Opts(mode, 96, 0, 2, prefetch);
      ReaderOptions three = one;
      three.gather_threads = 3;
      three.gather_min_bytes = 0;
      auto a = ShardReader::Open(*dir_, one);
      auto b = ShardReader::Open(*dir_, three);
      ASSERT_TRUE(a.ok() && b.ok());
      for (int64_t e : {0, 1}) {
        auto x = Epoch(**a, e);
        auto y = Epoch(**b, e);
        ASSERT_EQ(x.size(), y.size());
        for (size_t i = 0; i < x.size(); ++i) {
          EXPECT_EQ(x[i].x, y[i].x) << "epoch " << e << " batch " << i;
          EXPECT_EQ(x[i].y, y[i].y);
        }
      }
    }
  }
}

TEST_F(ReaderTest, MappedRowsGiveTheSameBatchesAsH5Dread) {
  // Stream mode reads x through a mapping of each shard when its chunks are
  // plain or carry only HDF5's Fletcher-32 checksum, and through H5Dread
  // otherwise (gzip); every batch must be the same either way, for several
  // ranks, prefetch on and off, and gather helpers.
  const std::string root = hpcai::testing::TempDir("reader_map");
  struct Case {
    const char* name;
    std::string compression;
    bool checksums;
    int mapped;  // shards read through the mapping
  };
  for (const Case& c : {Case{"fletcher32", "none", true, 3}, Case{"plain", "none", false, 3},
                        Case{"gzip", "gzip", true, 0}}) {
    const std::string dir = root + "/" + c.name;
    ASSERT_TRUE(hpcai::testing::WriteIndexDataset(dir, kN, kF, kClasses, 400, 64, c.compression, c.checksums).ok());
    for (int prefetch : {0, 2}) {
      for (int rank : {0, 2}) {
        ReaderOptions mapped = Opts(ReadMode::kStream, 96, rank, 3, prefetch);
        mapped.gather_threads = prefetch == 0 ? 1 : 2;
        ReaderOptions h5read = mapped;
        h5read.map_rows = false;
        auto a = ShardReader::Open(dir, mapped);
        auto b = ShardReader::Open(dir, h5read);
        ASSERT_TRUE(a.ok() && b.ok()) << c.name;
        EXPECT_EQ((*a)->mapped_shards(), c.mapped) << c.name;
        EXPECT_EQ((*b)->mapped_shards(), 0) << c.name;
        ExpectSameEpochs(**a, **b, 96, c.name);
      }
    }
  }
  (void)fs::RemoveAll(root);
}

// Rewrites a shard of float32 x (n x f) with another layout: x and y
// contiguous or in plain chunks of `chunk` rows, in a file with a user block
// of `userblock` bytes (0: none).  The data stay the same.
bool RewriteShard(const std::string& path, bool contiguous, hsize_t userblock, hsize_t chunk = 64) {
  hid_t in = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (in < 0) return false;
  hid_t dx = H5Dopen2(in, "x", H5P_DEFAULT), dy = H5Dopen2(in, "y", H5P_DEFAULT);
  hid_t sx = H5Dget_space(dx);
  hsize_t dims[2] = {0, 0};
  H5Sget_simple_extent_dims(sx, dims, nullptr);
  std::vector<float> x(dims[0] * dims[1]);
  std::vector<int32_t> y(dims[0]);
  bool ok = H5Dread(dx, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x.data()) >= 0 &&
            H5Dread(dy, H5T_NATIVE_INT32, H5S_ALL, H5S_ALL, H5P_DEFAULT, y.data()) >= 0;
  H5Sclose(sx);
  H5Dclose(dx);
  H5Dclose(dy);
  H5Fclose(in);
  if (!ok) return false;
  hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
  if (userblock > 0) H5Pset_userblock(fcpl, userblock);
  const std::string tmp = path + ".rewrite";
  hid_t out = H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
  H5Pclose(fcpl);
  if (out < 0) return false;
  auto write = [&](const char* name, int rank, const hsize_t* d, hid_t file_type, hid_t mem_type, const void* data) {
    hid_t space = H5Screate_simple(rank, d, nullptr);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (!contiguous) {
      hsize_t c[2] = {chunk, rank > 1 ? d[1] : 1};
      H5Pset_chunk(dcpl, rank, c);
    }
    hid_t ds = H5Dcreate2(out, name, file_type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    bool w = ds >= 0 && H5Dwrite(ds, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) >= 0;
    if (ds >= 0) H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(space);
    return w;
  };
  ok = write("x", 2, dims, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, x.data()) &&
       write("y", 1, dims, H5T_STD_I32LE, H5T_NATIVE_INT32, y.data());
  H5Fclose(out);
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}

TEST_F(ReaderTest, ContiguousShardsAreMappedAndUserBlocksAreNot) {
  // Shard 0 rewritten with a contiguous x (mapped through H5Dget_offset),
  // shard 1 with plain chunks behind a 512-byte user block (HDF5's addresses
  // are then not file offsets: read through H5Dread), shard 2 as written
  // (Fletcher-32 chunks, mapped).  Every batch must match the H5Dread reader.
  const std::string dir = hpcai::testing::TempDir("reader_layouts");
  ASSERT_TRUE(hpcai::testing::WriteIndexDataset(dir, kN, kF, kClasses, 400, 64).ok());
  ASSERT_TRUE(RewriteShard(dir + "/shard-00000.h5", /*contiguous=*/true, 0));
  ASSERT_TRUE(RewriteShard(dir + "/shard-00001.h5", /*contiguous=*/false, 512));
  ReaderOptions mapped = Opts(ReadMode::kStream, 128, 1, 2);
  ReaderOptions h5read = mapped;
  h5read.map_rows = false;
  auto a = ShardReader::Open(dir, mapped);
  auto b = ShardReader::Open(dir, h5read);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ((*a)->mapped_shards(), 2);
  ExpectSameEpochs(**a, **b, 128, "layouts");
  (void)fs::RemoveAll(dir);
}

TEST_F(ReaderTest, AWaitingConsumerCopiesPartOfItsBatches) {
  // A consumer that only calls Next() waits for nearly every batch; it then
  // copies pieces of that batch itself.  One that is slower than the
  // producer (a training step) finds its batches ready and copies nothing.
  // Rows of 4 KiB, batches of 1 MiB: a gather takes long enough to be caught.
  constexpr int64_t kRows = 4096, kWide = 1024, kBatch = 256;
  const std::string dir = hpcai::testing::TempDir("reader_help");
  ASSERT_TRUE(hpcai::testing::WriteIndexDataset(dir, kRows, kWide, kClasses, 2048, 128).ok());
  for (ReadMode mode : {ReadMode::kCache, ReadMode::kStream}) {
    ReaderOptions o = Opts(mode, kBatch, 0, 1, /*prefetch=*/2);
    o.window_chunks = 8;
    auto fast = ShardReader::Open(dir, o);
    ASSERT_TRUE(fast.ok());
    EXPECT_EQ((*fast)->gather_stats().pieces, 0);
    Batch b;
    // Until the consumer has helped (a few batches on a quiet machine; under
    // load the producer may finish each batch before the consumer looks).
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    for (int64_t e = 0; e < 10 || ((*fast)->gather_stats().by_consumer == 0 &&
                                   std::chrono::steady_clock::now() < give_up); ++e) {
      (*fast)->Seek(e, 0);
      auto order = (*fast)->EpochOrder(e);
      for (int64_t step = 0;; ++step) {
        auto more = (*fast)->Next(&b);
        ASSERT_TRUE(more.ok());
        if (!*more) break;
        // Spot checks (a full comparison would make this consumer slow).
        for (int64_t k : {int64_t{0}, kBatch - 1}) {
          const int64_t idx = order[static_cast<size_t>(step * kBatch + k)];
          ASSERT_EQ(b.y[static_cast<size_t>(k)], IndexLabel(idx, kClasses));
          ASSERT_EQ(b.x[static_cast<size_t>(k * kWide + 7)], IndexFeature(idx, 7));
        }
      }
    }
    auto st = (*fast)->gather_stats();
    EXPECT_GT(st.by_consumer, 0) << "the consumer never helped in 20 s of batches";
    EXPECT_LE(st.by_consumer, st.pieces);

    auto slow = ShardReader::Open(dir, o);
    ASSERT_TRUE(slow.ok());
    (*slow)->Seek(0, 0);
    auto more = (*slow)->Next(&b);  // the first batch may still be in the making
    ASSERT_TRUE(more.ok() && *more);
    const int64_t after_first = (*slow)->gather_stats().by_consumer;
    for (int i = 1; i < 6; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // "compute": the next batch is ready
      more = (*slow)->Next(&b);
      ASSERT_TRUE(more.ok() && *more);
    }
    EXPECT_EQ((*slow)->gather_stats().by_consumer, after_first) << "a consumer slower than the producer copied rows";
    EXPECT_GT((*slow)->gather_stats().pieces, 0);
  }
  (void)fs::RemoveAll(dir);
}

TEST_F(ReaderTest, DropLastAndPartialBatch) {
  auto keep = ShardReader::Open(*dir_, Opts(ReadMode::kCache, 300));
  ReaderOptions o = Opts(ReadMode::kCache, 300);
  o.drop_last = true;
  auto drop = ShardReader::Open(*dir_, o);
  ASSERT_TRUE(keep.ok() && drop.ok());
  EXPECT_EQ((*keep)->steps_per_epoch(), 4);
  EXPECT_EQ((*drop)->steps_per_epoch(), 3);
  auto k = Epoch(**keep, 0);
  auto d = Epoch(**drop, 0);
  ASSERT_EQ(k.size(), 4u);
  ASSERT_EQ(d.size(), 3u);
  EXPECT_EQ(k.back().global_size, 100);
  EXPECT_EQ(k.back().local_size, 100);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(k[i].x, d[i].x);
  // Fewer samples than ranks in the last batch: some ranks get 0 samples.
  auto tiny = ShardReader::Open(*dir_, Opts(ReadMode::kCache, 999, 0, 3));
  ASSERT_TRUE(tiny.ok());
  auto t = Epoch(**tiny, 0);
  ASSERT_EQ(t.size(), 2u);
  EXPECT_EQ(t[1].global_size, 1);
  EXPECT_EQ(t[1].local_size, 0);
  EXPECT_TRUE(t[1].x.empty());
}

TEST_F(ReaderTest, SeekResumesMidEpochAndEpochsContinue) {
  for (ReadMode mode : {ReadMode::kCache, ReadMode::kStream}) {
    auto full = ShardReader::Open(*dir_, Opts(mode, 50, 0, 2, 2));
    auto resumed = ShardReader::Open(*dir_, Opts(mode, 50, 0, 2, 2));
    ASSERT_TRUE(full.ok() && resumed.ok());
    auto e1 = Epoch(**full, 1);
    (*resumed)->Seek(1, 7);
    Batch b;
    for (size_t i = 7; i < e1.size(); ++i) {
      auto more = (*resumed)->Next(&b);
      ASSERT_TRUE(more.ok() && *more);
      EXPECT_EQ(b.step_in_epoch, static_cast<int64_t>(i));
      EXPECT_EQ(b.x, e1[i].x);
    }
    auto end = (*resumed)->Next(&b);
    ASSERT_TRUE(end.ok());
    EXPECT_FALSE(*end);
    EXPECT_FALSE(*(*resumed)->Next(&b));  // still at the end until Seek
    // The next epoch follows (the prefetched batches are kept).
    auto e2 = Epoch(**full, 2);
    (*resumed)->Seek(2, 0);
    for (size_t i = 0; i < e2.size(); ++i) {
      ASSERT_TRUE(*(*resumed)->Next(&b));
      EXPECT_EQ(b.epoch, 2);
      EXPECT_EQ(b.x, e2[i].x);
    }
    // Going back to an earlier epoch works too.
    (*resumed)->Seek(1, 0);
    ASSERT_TRUE(*(*resumed)->Next(&b));
    EXPECT_EQ(b.x, e1[0].x);
  }
}

TEST_F(ReaderTest, NoShuffleIsSequential) {
  ReaderOptions o = Opts(ReadMode::kStream, 100);
  o.shuffle = false;
  auto r = ShardReader::Open(*dir_, o);
  ASSERT_TRUE(r.ok());
  auto batches = Epoch(**r, 3);
  for (size_t b = 0; b < batches.size(); ++b) {
    std::vector<int64_t> idx(100);
    std::iota(idx.begin(), idx.end(), static_cast<int64_t>(100 * b));
    ExpectSamples(batches[b], idx);
  }
}

TEST_F(ReaderTest, AutoModeStreamsAboveTheBudget) {
  ReaderOptions o = Opts(ReadMode::kAuto, 100);
  o.memory_budget_mb = 0;  // nothing fits
  o.window_chunks = 0;     // derived from the budget: 1 chunk per window
  auto r = ShardReader::Open(*dir_, o);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ((*r)->mode(), ReadMode::kStream);
  auto batches = Epoch(**r, 0);
  EXPECT_EQ(batches.size(), 10u);
  auto order = (*r)->EpochOrder(0);
  // One chunk per window: the first 64 positions are one chunk's rows.
  std::set<int64_t> chunks;
  for (int p = 0; p < 64; ++p) chunks.insert(order[p] / 400 * 100 + order[p] % 400 / 64);
  EXPECT_EQ(chunks.size(), 1u);
}

TEST(ReaderUint8, ScaleIsAppliedExactly) {
  std::string dir = hpcai::testing::TempDir("reader_u8");
  DatasetLayout layout;
  layout.sample_shape = {2, 3};
  layout.dtype = "uint8";
  layout.scale = 1.0f / 255.0f;
  layout.num_classes = 3;
  const int64_t n = 256;
  auto w = DatasetWriter::Create(dir, layout, n);
  ASSERT_TRUE(w.ok());
  std::vector<uint8_t> x(n * 6);
  std::vector<int32_t> y(n);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < 6; ++j) x[i * 6 + j] = static_cast<uint8_t>((i + j * 40) & 255);
    y[i] = static_cast<int32_t>(i % 3);
  }
  ASSERT_TRUE((*w)->Append(x.data(), y.data(), n).ok());
  ASSERT_TRUE((*w)->Finish().ok());
  ReaderOptions o;
  o.global_batch = n;
  o.shuffle = false;
  auto r = ShardReader::Open(dir, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Batch b;
  (*r)->Seek(0, 0);
  ASSERT_TRUE(*(*r)->Next(&b));
  for (int64_t k = 0; k < n * 6; ++k) {
    ASSERT_EQ(b.x[k], static_cast<float>(x[k]) * (1.0f / 255.0f));
  }
  EXPECT_EQ(b.y, y);
  EXPECT_EQ(b.x[0], 0.0f);
  (void)fs::RemoveAll(dir);
}

}  // namespace
}  // namespace hpcai::io
