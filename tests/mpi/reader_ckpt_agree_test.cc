// Checkpoint choice agreed across ranks (io::AgreeLatestValid): a corrupt
// latest checkpoint makes every rank fall back to the same older file, with
// the same warnings.  (File name keeps to the data helper's tests/mpi/reader_*.)
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include "hpcai/io/checkpoint.h"
#include "io/test_data_util.h"

namespace hpcai::io {
namespace {

namespace t = hpcai::testing;

TEST(CheckpointAgree, EveryRankPicksTheSameFallback) {
  int rank = 0, world = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world);
  int pid = static_cast<int>(::getpid());
  MPI_Bcast(&pid, 1, MPI_INT, 0, MPI_COMM_WORLD);
  const char* root = std::getenv("HPCAI_TEST_TMP");
  const std::string dir = std::string(root && *root ? root : "/tmp/hpcai-test") + "/mpi_ckpt_np" +
                          std::to_string(world) + "." + std::to_string(pid);
  std::vector<float> w(1000);
  int ok = 1;
  if (rank == 0) {
    (void)fs::RemoveAll(dir);
    for (int64_t step : {100, 200}) {
      for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(step + static_cast<int64_t>(i));
      CheckpointData d;
      d.meta.step = step;
      d.meta.world_size = world;
      d.rng.assign(world, RngState{1, 2});
      d.tensors = {{"params/w", {1000}, w.data()}};
      ok &= WriteCheckpoint(dir, d, 0).ok();
    }
    ok &= t::Truncate(dir + "/ckpt-200.h5", 3000);  // the latest is damaged
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  ASSERT_TRUE(ok);
  std::vector<std::string> warnings;
  auto path = AgreeLatestValid(dir, {}, MPI_COMM_WORLD, 0, &warnings);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, dir + "/ckpt-100.h5");
  ASSERT_EQ(warnings.size(), 2u);
  EXPECT_NE(warnings[0].find("ckpt-200.h5 is not loadable"), std::string::npos) << warnings[0];
  auto ck = ReadCheckpoint(*path);
  ASSERT_TRUE(ck.ok());
  EXPECT_EQ(ck->tensors[0].data[999], 1099.0f);
  // No valid checkpoint at all: every rank gets the same NotFound.
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) ok = t::Truncate(dir + "/ckpt-100.h5", 10);
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  auto none = AgreeLatestValid(dir, {}, MPI_COMM_WORLD);
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  int len = static_cast<int>(none.status().message().size()), lo = 0, hi = 0;
  MPI_Allreduce(&len, &lo, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&len, &hi, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  EXPECT_EQ(lo, hi);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) (void)fs::RemoveAll(dir);
}

}  // namespace
}  // namespace hpcai::io
