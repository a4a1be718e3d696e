// The reader under real MPI ranks (run by ctest with mpirun -np 1, 2, 3):
// order independence from the world size, collective HDF5, agreed errors.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <functional>

#include "hpcai/io/dataset.h"
#include "hpcai/io/parallel.h"
#include "hpcai/io/reader.h"
#include "io/test_data_util.h"

namespace hpcai::io {
namespace {

namespace t = hpcai::testing;

int Rank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}
int World() {
  int s = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &s);
  return s;
}

// A directory shared by all ranks (named after rank 0's pid), created by rank 0.
std::string SharedDir(const std::string& name) {
  int pid = static_cast<int>(::getpid());
  MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  const char* root = std::getenv("HPCAI_TEST_TMP");
  std::string dir = std::string(root && *root ? root : "/tmp/hpcai-test") + "/mpi_" + name + "_np" +
                    std::to_string(World()) + "." + std::to_string(pid);
  if (Rank() == 0) {
    (void)fs::RemoveAll(dir);
    (void)fs::MakeDirs(dir);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  return dir;
}

// Runs `make` on rank 0 only, then shares its status.
Status OnRankZero(const std::function<Status()>& make) {
  Status st = Rank() == 0 ? make() : Status::OK();
  return AgreeStatus(st, MPI_COMM_WORLD);
}

bool AllRanks(bool ok) {
  int mine = ok ? 1 : 0, all = 0;
  MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return all == 1;
}

constexpr int64_t kN = 1003, kF = 5;
constexpr int kClasses = 7;

class ReaderMpiTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(SharedDir("reader") + "/ds");
    ASSERT_TRUE(OnRankZero([] { return t::WriteIndexDataset(*dir_, kN, kF, kClasses, 350, 40); }).ok());
  }
  static void TearDownTestSuite() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (Rank() == 0) (void)fs::RemoveAll(fs::Dirname(*dir_));
    delete dir_;
  }
  static std::string* dir_;
};
std::string* ReaderMpiTest::dir_ = nullptr;

ReaderOptions Opts(ReadMode mode, int64_t batch, int rank, int world) {
  ReaderOptions o;
  o.global_batch = batch;
  o.rank = rank;
  o.world_size = world;
  o.seed = 1234;
  o.mode = mode;
  o.window_chunks = 4;
  o.prefetch = 2;
  return o;
}

TEST_F(ReaderMpiTest, GlobalBatchesDoNotDependOnWorldSize) {
  const int rank = Rank(), world = World();
  for (ReadMode mode : {ReadMode::kCache, ReadMode::kStream}) {
    for (bool drop_last : {false, true}) {
      ReaderOptions mine = Opts(mode, 96, rank, world), single = Opts(mode, 96, 0, 1);
      mine.drop_last = single.drop_last = drop_last;
      auto r = ShardReader::Open(*dir_, mine);
      auto ref = ShardReader::Open(*dir_, single);  // single-process recomputation
      ASSERT_TRUE(AllRanks(r.ok() && ref.ok())) << r.status().ToString();
      ASSERT_EQ((*r)->steps_per_epoch(), (*ref)->steps_per_epoch());
      EXPECT_EQ((*r)->steps_per_epoch(), drop_last ? 10 : 11);
      for (int64_t epoch : {0, 1}) {
        (*r)->Seek(epoch, 0);
        (*ref)->Seek(epoch, 0);
        Batch b, g;
        int64_t steps = 0;
        while (true) {
          auto more = (*r)->Next(&b);
          auto gmore = (*ref)->Next(&g);
          ASSERT_TRUE(AllRanks(more.ok() && gmore.ok()));
          ASSERT_EQ(*more, *gmore);
          if (!*more) break;
          ++steps;
          // This rank holds positions [r*n/R, (r+1)*n/R) of the global batch.
          const int64_t n = g.global_size, lo = rank * n / world, hi = (rank + 1) * n / world;
          ASSERT_EQ(b.global_size, n);
          ASSERT_EQ(b.local_offset, lo);
          ASSERT_EQ(b.local_size, hi - lo);
          ASSERT_EQ(b.x, std::vector<float>(g.x.begin() + lo * kF, g.x.begin() + hi * kF));
          ASSERT_EQ(b.y, std::vector<int32_t>(g.y.begin() + lo, g.y.begin() + hi));
          // And across ranks: the gathered slices are exactly the global batch.
          std::vector<int> counts(world), displs(world);
          int local = static_cast<int>(b.y.size());
          MPI_Gather(&local, 1, MPI_INT, counts.data(), 1, MPI_INT, 0, MPI_COMM_WORLD);
          std::vector<int32_t> gathered(rank == 0 ? n : 0);
          for (int i = 1; i < world; ++i) displs[i] = displs[i - 1] + counts[i - 1];
          MPI_Gatherv(b.y.data(), local, MPI_INT32_T, gathered.data(), counts.data(), displs.data(), MPI_INT32_T, 0,
                      MPI_COMM_WORLD);
          if (rank == 0) {
            ASSERT_EQ(gathered, g.y);
          }
        }
        EXPECT_EQ(steps, (*ref)->steps_per_epoch());
      }
    }
  }
}

TEST_F(ReaderMpiTest, CollectiveModeGivesTheSameBatches) {
  const int rank = Rank(), world = World();
  for (ReadMode mode : {ReadMode::kCache, ReadMode::kStream}) {
    ReaderOptions coll = Opts(mode, 128, rank, world);
    coll.collective = true;
    coll.comm = MPI_COMM_WORLD;
    auto c = ShardReader::Open(*dir_, coll);
    auto i = ShardReader::Open(*dir_, Opts(mode, 128, rank, world));
    ASSERT_TRUE(AllRanks(c.ok() && i.ok())) << c.status().ToString();
    for (int64_t epoch : {0, 3}) {
      (*c)->Seek(epoch, 0);
      (*i)->Seek(epoch, 0);
      Batch a, b;
      while (true) {
        auto ma = (*c)->Next(&a);
        auto mb = (*i)->Next(&b);
        ASSERT_TRUE(AllRanks(ma.ok() && mb.ok())) << ma.status().ToString();
        ASSERT_EQ(*ma, *mb);
        if (!*ma) break;
        ASSERT_EQ(a.x, b.x);
        ASSERT_EQ(a.y, b.y);
      }
    }
  }
}

TEST_F(ReaderMpiTest, ReadSlabCollectiveReallyIsCollective) {
  const int rank = Rank(), world = World();
  const std::string file = *dir_ + "/shard-00000.h5";  // 350 rows of 5 floats, chunked by 40
  const int64_t rows = 350, lo = rows * rank / world, hi = rows * (rank + 1) / world;
  std::vector<float> out((hi - lo) * kF, -1.0f);
  bool was_collective = false;
  Status st = ReadSlabCollective(file, "x", MPI_COMM_WORLD, lo, hi - lo, out.data(), &was_collective);
  ASSERT_TRUE(AllRanks(st.ok())) << st.ToString();
  EXPECT_TRUE(AllRanks(was_collective)) << "H5Pget_mpio_actual_io_mode reported an independent transfer";
  for (int64_t i = lo; i < hi; ++i) {
    for (int64_t j = 0; j < kF; ++j) ASSERT_EQ(out[(i - lo) * kF + j], t::IndexFeature(i, j));
  }
  // An empty slab on some ranks is still a valid collective call.
  int64_t count = rank == 0 ? 10 : 0;
  st = ReadSlabCollective(file, "x", MPI_COMM_WORLD, 0, count, out.data(), &was_collective);
  EXPECT_TRUE(AllRanks(st.ok())) << st.ToString();
  // A bad dataset name fails on every rank with the same message.
  st = ReadSlabCollective(file, rank == world - 1 ? "nope" : "x", MPI_COMM_WORLD, 0, 1, out.data(), nullptr);
  EXPECT_EQ(st.code(), Code::kCorrupt);
  EXPECT_NE(st.message().find("'nope'"), std::string::npos) << st.message();
}

// One kind of damage, applied to a copy of the dataset that only the last rank opens.
struct Damage {
  const char* name;
  std::function<bool(const std::string& dir)> apply;
  const char* expect;  // in the agreed message
};

TEST_F(ReaderMpiTest, ABadShardOnOneRankFailsEveryRankTheSame) {
  const int rank = Rank(), world = World();
  const std::string base = SharedDir("damage");
  std::vector<Damage> cases = {
      {"missing", [](const std::string& d) { return ::unlink((d + "/shard-00001.h5").c_str()) == 0; },
       "shard-00001.h5"},
      {"truncated", [](const std::string& d) { return t::Truncate(d + "/shard-00001.h5", 4000); }, "shard-00001.h5"},
      {"flipped", [](const std::string& d) {
         return t::FlipByte(d + "/shard-00002.h5", t::ChunkAddress(d + "/shard-00002.h5", "x", 2));
       }, "shard-00002.h5"},
      {"labels", [](const std::string& d) {
         return t::EditFile(d + "/manifest.json", "\"num_classes\": 7", "\"num_classes\": 5");
       }, "outside [0, 5)"},
      {"count", [](const std::string& d) {
         return t::EditFile(d + "/manifest.json", "\"num_samples\": 1003", "\"num_samples\": 1004");
       }, "manifest.json"},
      {"shape", [&](const std::string& d) {
         return t::WriteIndexDataset(d + ".other", kN, kF + 1, kClasses, 350, 40).ok() &&
                t::CopyFile(d + ".other/shard-00001.h5", d + "/shard-00001.h5");
       }, "sample shape [6]"},
      {"dtype", [&](const std::string& d) {
         DatasetLayout layout;
         layout.sample_shape = {kF};
         layout.dtype = "uint8";
         layout.num_classes = kClasses;
         layout.samples_per_shard = 350;
         layout.chunk_samples = 40;
         auto w = DatasetWriter::Create(d + ".other", layout, kN, true);
         std::vector<uint8_t> x(kN * kF, 7);
         std::vector<int32_t> y(kN, 1);
         return w.ok() && (*w)->Append(x.data(), y.data(), kN).ok() && (*w)->Finish().ok() &&
                t::CopyFile(d + ".other/shard-00002.h5", d + "/shard-00002.h5");
       }, "dtype uint8"},
      {"names", [](const std::string& d) {
         // A shard whose x dataset was renamed.
         hid_t f = H5Fopen((d + "/shard-00001.h5").c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
         bool ok = f >= 0 && H5Lmove(f, "x", f, "images", H5P_DEFAULT, H5P_DEFAULT) >= 0;
         if (f >= 0) H5Fclose(f);
         return ok;
       }, "no dataset 'x' (the file has: images, y)"},
  };
  for (const auto& c : cases) {
    for (ReadMode mode : {ReadMode::kCache, ReadMode::kStream}) {
      const std::string bad = base + "/" + c.name;
      ASSERT_TRUE(OnRankZero([&] {
                    Status s = t::WriteIndexDataset(bad, kN, kF, kClasses, 350, 40);
                    if (s.ok() && !c.apply(bad)) s = Status::Internal(std::string("could not damage: ") + c.name);
                    return s;
                  }).ok());
      const std::string mine = rank == world - 1 ? bad : *dir_;
      // What a training job does: open, read an epoch, agree at each step.
      Status local;
      auto r = ShardReader::Open(mine, Opts(mode, 100, rank, world));
      Status agreed = AgreeStatus(r.status(), MPI_COMM_WORLD);
      if (agreed.ok()) {
        (*r)->Seek(0, 0);
        Batch b;
        while (agreed.ok()) {
          auto more = (*r)->Next(&b);
          agreed = AgreeStatus(more.status(), MPI_COMM_WORLD);
          if (agreed.ok() && !*more) break;
        }
      }
      EXPECT_FALSE(agreed.ok()) << c.name << " was not detected";
      EXPECT_NE(agreed.message().find(c.expect), std::string::npos) << c.name << ": " << agreed.message();
      if (world > 1) {
        EXPECT_EQ(agreed.message().rfind("rank " + std::to_string(world - 1) + ": ", 0), 0u) << agreed.message();
      }
      // Every rank holds the same message.
      int len = static_cast<int>(agreed.message().size()), min_len = 0, max_len = 0;
      MPI_Allreduce(&len, &min_len, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
      MPI_Allreduce(&len, &max_len, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
      EXPECT_EQ(min_len, max_len);
      MPI_Barrier(MPI_COMM_WORLD);
      if (rank == 0) {
        (void)fs::RemoveAll(bad);
        (void)fs::RemoveAll(bad + ".other");
      }
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) (void)fs::RemoveAll(base);
}

TEST_F(ReaderMpiTest, CollectiveOpenOfACorruptDatasetFailsOnEveryRank) {
  const int rank = Rank();
  const std::string bad = SharedDir("collbad") + "/ds";
  ASSERT_TRUE(OnRankZero([&] {
                Status s = t::WriteIndexDataset(bad, kN, kF, kClasses, 350, 40);
                if (s.ok() && !t::Truncate(bad + "/shard-00002.h5", 5000)) s = Status::Internal("truncate");
                return s;
              }).ok());
  ReaderOptions o = Opts(ReadMode::kCache, 100, rank, World());
  o.collective = true;
  auto r = ShardReader::Open(bad, o);
  EXPECT_TRUE(AllRanks(!r.ok()));
  EXPECT_NE(r.status().message().find("shard-00002.h5"), std::string::npos) << r.status().message();
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) (void)fs::RemoveAll(fs::Dirname(bad));
}

TEST(IoAgreeStatus, OkWhenAllOkElseFirstFailingRank) {
  const int rank = Rank(), world = World();
  EXPECT_TRUE(AgreeStatus(Status::OK(), MPI_COMM_WORLD).ok());
  Status mine = rank >= world / 2 ? Status::Corrupt("bad thing on rank " + std::to_string(rank)) : Status::OK();
  Status agreed = AgreeStatus(mine, MPI_COMM_WORLD);
  EXPECT_EQ(agreed.code(), Code::kCorrupt);
  EXPECT_NE(agreed.message().find("bad thing on rank " + std::to_string(world / 2)), std::string::npos)
      << agreed.message();
}

}  // namespace
}  // namespace hpcai::io
