// Checkpoint format: round trip, checksums, fallback, .tmp handling, pruning,
// async writer, and kill -9 of a writer at random moments.
#include "hpcai/io/checkpoint.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <thread>

#include "hpcai/base/rng.h"
#include "io/test_data_util.h"

namespace hpcai::io {
namespace {

namespace t = hpcai::testing;

// A small model-like state whose values depend on the step.
struct State {
  std::vector<float> w1, b1, m1, v1;
  CheckpointData data;
  explicit State(int64_t step, int world = 2, int64_t rows = 64, int64_t cols = 32) {
    w1.resize(rows * cols);
    b1.resize(rows);
    m1.resize(rows * cols);
    v1.resize(rows * cols);
    for (size_t i = 0; i < w1.size(); ++i) w1[i] = static_cast<float>(step) + 0.001f * static_cast<float>(i);
    for (size_t i = 0; i < b1.size(); ++i) b1[i] = -static_cast<float>(step) * 0.5f + static_cast<float>(i);
    for (size_t i = 0; i < m1.size(); ++i) m1[i] = 1e-3f * static_cast<float>(i + step);
    for (size_t i = 0; i < v1.size(); ++i) v1[i] = 1e-6f * static_cast<float>(i * step + 1);
    data.meta.step = step;
    data.meta.epoch = step / 10;
    data.meta.data_cursor = step % 10;
    data.meta.world_size = world;
    data.meta.spec_hash = "abc123def456";
    data.meta.optimizer_step = step;
    data.meta.schedule = Json::MakeObject();
    data.meta.schedule.set("lr", 0.01 * static_cast<double>(step + 1));
    data.meta.extra = Json::MakeObject();
    data.meta.extra.set("val_accuracy", 0.5);
    data.tensors = {{"params/fc1/w", {rows, cols}, w1.data()},
                    {"params/fc1/b", {rows}, b1.data()},
                    {"optim/m/params/fc1/w", {rows, cols}, m1.data()},
                    {"optim/v/params/fc1/w", {rows, cols}, v1.data()}};
    for (int r = 0; r < world; ++r) {
      Rng rng(MixSeed(7, static_cast<uint64_t>(step), static_cast<uint64_t>(r)));
      data.rng.push_back(RngState{rng.state0(), rng.state1()});
    }
  }
};

void ExpectMatches(const Checkpoint& ck, const State& s) {
  EXPECT_EQ(ck.meta.step, s.data.meta.step);
  EXPECT_EQ(ck.meta.epoch, s.data.meta.epoch);
  EXPECT_EQ(ck.meta.data_cursor, s.data.meta.data_cursor);
  EXPECT_EQ(ck.meta.world_size, s.data.meta.world_size);
  EXPECT_EQ(ck.meta.spec_hash, s.data.meta.spec_hash);
  EXPECT_EQ(ck.meta.optimizer_step, s.data.meta.optimizer_step);
  EXPECT_EQ(ck.meta.schedule, s.data.meta.schedule);
  EXPECT_EQ(ck.meta.extra, s.data.meta.extra);
  EXPECT_EQ(ck.meta.hpcai_version, HPCAI_VERSION);
  EXPECT_EQ(ck.meta.format_version, kCheckpointFormatVersion);
  EXPECT_EQ(ck.rng, s.data.rng);
  ASSERT_EQ(ck.tensors.size(), s.data.tensors.size());
  for (size_t i = 0; i < ck.tensors.size(); ++i) {
    const TensorRef& want = s.data.tensors[i];
    EXPECT_EQ(ck.tensors[i].name, want.name);
    EXPECT_EQ(ck.tensors[i].shape, want.shape);
    ASSERT_EQ(ck.tensors[i].data.size(), static_cast<size_t>(std::max<int64_t>(1, want.shape[0]) *
                                                                (want.shape.size() > 1 ? want.shape[1] : 1)));
    EXPECT_EQ(0, std::memcmp(ck.tensors[i].data.data(), want.data, ck.tensors[i].data.size() * sizeof(float)))
        << want.name;
  }
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = t::TempDir(std::string("ckpt_") + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }
  std::string Path(int64_t step) { return dir_ + "/" + CheckpointFileName(step); }
  std::string dir_;
};

TEST_F(CheckpointTest, RoundTripAndLatest) {
  State s(120, 3);
  auto path = WriteCheckpoint(dir_, s.data, 3);
  ASSERT_TRUE(path.ok()) << path.status().ToString();
  EXPECT_EQ(*path, Path(120));
  EXPECT_EQ(*fs::ReadFile(dir_ + "/LATEST"), "ckpt-120.h5\n");
  auto ck = ReadCheckpoint(*path);
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  ExpectMatches(*ck, s);
  ASSERT_NE(ck->Find("params/fc1/b"), nullptr);
  EXPECT_EQ(ck->Find("nope"), nullptr);
  auto found = FindLatestValid(dir_);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->checkpoint.meta.step, 120);
  EXPECT_TRUE(found->warnings.empty());
  // Metadata-only reads still verify every checksum but keep no tensor data.
  ReadCheckpointOptions meta_only;
  meta_only.load_tensors = false;
  auto m = ReadCheckpoint(*path, meta_only);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->tensors[0].data.empty());
  EXPECT_EQ(m->tensors[0].shape, (std::vector<int64_t>{64, 32}));
}

TEST_F(CheckpointTest, ReadableWithH5py) {
  State s(7, 2);
  auto path = WriteCheckpoint(dir_, s.data, 0);
  ASSERT_TRUE(path.ok());
  std::string py =
      "import h5py, json, numpy as np\n"
      "f = h5py.File('" + *path + "', 'r')\n"
      "assert f.attrs['magic'] == b'hpcai-checkpoint' or f.attrs['magic'] == 'hpcai-checkpoint'\n"
      "assert int(f.attrs['complete']) == 1 and int(f.attrs['step']) == 7 and int(f.attrs['world_size']) == 2\n"
      "w = f['tensors/params/fc1/w'][:]\n"
      "assert w.dtype == np.float32 and w.shape == (64, 32)\n"
      "assert w[0, 0] == np.float32(7) and w[1, 0] == np.float32(7) + np.float32(0.001) * np.float32(32)\n"
      "assert f['rng'].shape == (2, 2) and f['rng'].dtype == np.uint64\n"
      "names = json.loads(f.attrs['tensor_names'])\n"
      "assert names[0] == 'params/fc1/w' and len(names) == 4, names\n"
      "print('ok')\n";
  ASSERT_TRUE(fs::AtomicWriteFile(dir_ + "/check.py", py).ok());
  std::string out;
  EXPECT_EQ(t::RunCommand("/usr/bin/python3 " + dir_ + "/check.py", &out), 0) << out;
}

TEST_F(CheckpointTest, LoadsIntoAPyTorchStateDict) {
  // An MLP 20-64-10 as the runtime names it (dense<i>.weight is (out, in)),
  // plus optimizer state the script must skip.
  std::vector<float> w0(64 * 20), b0(64), w1(10 * 64), b1(10), m0(64 * 20, 0.5f);
  for (size_t i = 0; i < w0.size(); ++i) w0[i] = 0.01f * static_cast<float>(i);
  for (size_t i = 0; i < w1.size(); ++i) w1[i] = -0.02f * static_cast<float>(i);
  for (size_t i = 0; i < b0.size(); ++i) b0[i] = static_cast<float>(i);
  for (size_t i = 0; i < b1.size(); ++i) b1[i] = 100.0f + static_cast<float>(i);
  CheckpointData d;
  d.meta.step = 42;
  d.rng = {RngState{1, 2}};
  d.tensors = {{"params/dense0.weight", {64, 20}, w0.data()}, {"params/dense0.bias", {64}, b0.data()},
               {"params/dense1.weight", {10, 64}, w1.data()}, {"params/dense1.bias", {10}, b1.data()},
               {"optim/m/dense0.weight", {64, 20}, m0.data()}};
  auto path = WriteCheckpoint(dir_, d, 0);
  ASSERT_TRUE(path.ok());
  const char* src = std::getenv("HPCAI_SOURCE_DIR");
  const std::string repo = src && *src ? src : fs::Dirname(fs::Dirname(fs::Dirname(fs::SelfExe())));
  std::string out;
  ASSERT_EQ(t::RunCommand("/usr/bin/python3 " + repo + "/scripts/ckpt_to_torch.py " + *path + " --check-mlp --out " +
                              dir_ + "/mlp.pt",
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("loaded into torch_ref.MLP(20, [64], 10) strict"), std::string::npos) << out;
  out.clear();
  ASSERT_EQ(t::RunCommand("/usr/bin/python3 -c \"import torch; sd = torch.load('" + dir_ +
                              "/mlp.pt'); print(float(sd['out.weight'][1, 0]), float(sd['hidden.0.bias'][5]), "
                              "sorted(sd))\"",
                          &out),
            0)
      << out;
  EXPECT_NE(out.find("-1.2799999713897705 5.0 ['hidden.0.bias', 'hidden.0.weight', 'out.bias', 'out.weight']"),
            std::string::npos)
      << out;
}

TEST_F(CheckpointTest, FlippedByteFallsBackToThePreviousOne) {
  State a(100), b(200);
  ASSERT_TRUE(WriteCheckpoint(dir_, a.data, 3).ok());
  ASSERT_TRUE(WriteCheckpoint(dir_, b.data, 3).ok());
  // Damage one float of a tensor in the newest checkpoint.
  int64_t at = t::ChunkAddress(Path(200), "tensors/params/fc1/w", 0);  // contiguous: -1
  if (at < 0) {
    // Contiguous dataset: find its offset with HDF5's H5Dget_offset.
    hid_t f = H5Fopen(Path(200).c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "tensors/params/fc1/w", H5P_DEFAULT);
    at = static_cast<int64_t>(H5Dget_offset(d)) + 100;
    H5Dclose(d);
    H5Fclose(f);
  }
  ASSERT_TRUE(t::FlipByte(Path(200), at));
  auto bad = ReadCheckpoint(Path(200));
  EXPECT_EQ(bad.status().code(), Code::kCorrupt);
  EXPECT_NE(bad.status().message().find("tensor 'params/fc1/w' [64,32] fails its checksum"), std::string::npos)
      << bad.status().message();
  auto found = FindLatestValid(dir_);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->checkpoint.meta.step, 100);
  ExpectMatches(found->checkpoint, a);
  ASSERT_EQ(found->warnings.size(), 2u);
  EXPECT_NE(found->warnings[0].find("ckpt-200.h5 is not loadable"), std::string::npos) << found->warnings[0];
  EXPECT_NE(found->warnings[1].find("falling back to ckpt-100.h5"), std::string::npos) << found->warnings[1];
}

TEST_F(CheckpointTest, TruncatedAndHeaderDamageFallBack) {
  State a(10), b(20), c(30);
  ASSERT_TRUE(WriteCheckpoint(dir_, a.data, 0).ok());
  ASSERT_TRUE(WriteCheckpoint(dir_, b.data, 0).ok());
  ASSERT_TRUE(WriteCheckpoint(dir_, c.data, 0).ok());
  ASSERT_TRUE(t::Truncate(Path(30), t::FileSize(Path(30)) - 5000));
  ASSERT_TRUE(t::FlipByte(Path(20), 30));  // superblock (checksummed)
  auto found = FindLatestValid(dir_);
  ASSERT_TRUE(found.ok()) << found.status().ToString();
  EXPECT_EQ(found->checkpoint.meta.step, 10);
  EXPECT_EQ(ReadCheckpoint(Path(30)).status().code(), Code::kCorrupt);
  EXPECT_EQ(ReadCheckpoint(Path(20)).status().code(), Code::kCorrupt);
  // Nothing valid left: NotFound listing why.
  ASSERT_TRUE(t::Truncate(Path(10), 100));
  auto none = FindLatestValid(dir_);
  EXPECT_EQ(none.status().code(), Code::kNotFound);
  EXPECT_NE(none.status().message().find("ckpt-10.h5"), std::string::npos) << none.status().message();
  EXPECT_NE(none.status().message().find("ckpt-30.h5"), std::string::npos);
}

TEST_F(CheckpointTest, TmpFilesAreNeverTaken) {
  State a(5), b(6);
  ASSERT_TRUE(WriteCheckpoint(dir_, a.data, 0).ok());
  // A complete-looking file that never got renamed (the writer died before rename).
  ASSERT_TRUE(WriteCheckpoint(dir_ + "/other", b.data, 0).ok());
  ASSERT_TRUE(t::CopyFile(dir_ + "/other/ckpt-6.h5", Path(6) + ".tmp"));
  auto found = FindLatestValid(dir_);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->checkpoint.meta.step, 5);
  auto tmp = ReadCheckpoint(Path(6) + ".tmp");
  EXPECT_EQ(tmp.status().code(), Code::kInvalidArgument);
  EXPECT_NE(tmp.status().message().find(".tmp"), std::string::npos);
  // The next write clears the leftover.
  ASSERT_TRUE(WriteCheckpoint(dir_, b.data, 0).ok());
  EXPECT_FALSE(fs::Exists(Path(6) + ".tmp"));
}

TEST_F(CheckpointTest, MissingCompleteMarkerIsRejected) {
  State a(1), b(2);
  ASSERT_TRUE(WriteCheckpoint(dir_, a.data, 0).ok());
  ASSERT_TRUE(WriteCheckpoint(dir_, b.data, 0).ok());
  hid_t f = H5Fopen(Path(2).c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  ASSERT_GE(f, 0);
  ASSERT_GE(H5Adelete(f, "complete"), 0);
  H5Fclose(f);
  auto r = ReadCheckpoint(Path(2));
  EXPECT_EQ(r.status().code(), Code::kCorrupt);
  EXPECT_NE(r.status().message().find("no 'complete' marker"), std::string::npos) << r.status().message();
  auto found = FindLatestValid(dir_);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->checkpoint.meta.step, 1);
}

TEST_F(CheckpointTest, VersionMagicAndSpecHash) {
  State a(3);
  ASSERT_TRUE(WriteCheckpoint(dir_, a.data, 0).ok());
  ReadCheckpointOptions o;
  o.expect_spec_hash = "ffff0000ffff";
  auto mismatch = ReadCheckpoint(Path(3), o);
  EXPECT_EQ(mismatch.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(mismatch.status().message().find("abc123def456"), std::string::npos) << mismatch.status().message();
  // An incompatible spec is not silently skipped by the fallback search.
  EXPECT_EQ(FindLatestValid(dir_, o).status().code(), Code::kFailedPrecondition);
  o.expect_spec_hash = "abc123def456";
  EXPECT_TRUE(ReadCheckpoint(Path(3), o).ok());
  hid_t f = H5Fopen(Path(3).c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t attr = H5Aopen(f, "format_version", H5P_DEFAULT);
  int64_t v = 99;
  H5Awrite(attr, H5T_NATIVE_INT64, &v);
  H5Aclose(attr);
  H5Fclose(f);
  auto newer = ReadCheckpoint(Path(3));
  EXPECT_EQ(newer.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(newer.status().message().find("format version 99"), std::string::npos);
  // A data shard is not a checkpoint.
  ASSERT_TRUE(t::WriteIndexDataset(dir_ + "/ds", 10, 2, 2, 0, 0).ok());
  auto wrong = ReadCheckpoint(dir_ + "/ds/shard-00000.h5");
  EXPECT_EQ(wrong.status().code(), Code::kCorrupt);
  EXPECT_NE(wrong.status().message().find("not an hpcai checkpoint"), std::string::npos);
}

TEST_F(CheckpointTest, KeepLastPrunesOnlyAfterTheNewOneIsSafe) {
  for (int64_t step : {10, 20, 30, 40, 50}) {
    State s(step);
    ASSERT_TRUE(WriteCheckpoint(dir_, s.data, 2).ok());
  }
  auto list = ListCheckpoints(dir_);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].step, 40);
  EXPECT_EQ((*list)[1].step, 50);
  EXPECT_TRUE((*list)[1].latest);
  EXPECT_FALSE((*list)[0].latest);
  EXPECT_TRUE((*list)[0].valid && (*list)[1].valid);
  EXPECT_GT((*list)[0].bytes, 64 * 32 * 4);
  // Resuming from an older step: LATEST is the truth, newer files are not taken.
  State old(45);
  ASSERT_TRUE(WriteCheckpoint(dir_, old.data, 2).ok());
  auto found = FindLatestValid(dir_);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->checkpoint.meta.step, 45);
}

TEST_F(CheckpointTest, BadArguments) {
  State s(1, 2);
  s.data.rng.pop_back();
  EXPECT_EQ(WriteCheckpoint(dir_, s.data, 0).status().code(), Code::kInvalidArgument);
  State d(1, 1);
  d.data.tensors[1].name = d.data.tensors[0].name;
  EXPECT_EQ(WriteCheckpoint(dir_, d.data, 0).status().code(), Code::kInvalidArgument);
  d.data.tensors[1].name = "/abs";
  EXPECT_EQ(WriteCheckpoint(dir_, d.data, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(FindLatestValid(dir_ + "/nope").status().code(), Code::kNotFound);
  EXPECT_EQ(FindLatestValid(dir_).status().code(), Code::kNotFound);
}

TEST_F(CheckpointTest, AsyncWriterCopiesAtSubmitAndKeepsOneInFlight) {
  AsyncCheckpointWriter w(dir_, 0);
  State s(11, 1, 512, 512);  // 1 MB tensors
  State want(11, 1, 512, 512);
  ASSERT_TRUE(w.Submit(s.data).ok());
  // Training goes on and changes its tensors at once: the checkpoint must not see it.
  std::fill(s.w1.begin(), s.w1.end(), -1.0f);
  s.data.meta.step = 12;
  ASSERT_TRUE(w.Submit(s.data).ok());  // waits for step 11's write first
  ASSERT_TRUE(w.Wait().ok());
  EXPECT_FALSE(w.busy());
  EXPECT_EQ(w.last_path(), Path(12));
  auto ck11 = ReadCheckpoint(Path(11));
  ASSERT_TRUE(ck11.ok()) << ck11.status().ToString();
  ExpectMatches(*ck11, want);
  auto ck12 = ReadCheckpoint(Path(12));
  ASSERT_TRUE(ck12.ok());
  EXPECT_EQ(ck12->tensors[0].data[5], -1.0f);
  EXPECT_GE(w.TakeStallSeconds(), 0.0);
  // A failing write is reported by the next Submit (or Wait).
  AsyncCheckpointWriter bad("/proc/hpcai-not-writable", 0);
  ASSERT_TRUE(bad.Submit(s.data).ok());
  EXPECT_FALSE(bad.Wait().ok());
}

// kill -9 of a writer at random moments: the newest valid checkpoint always
// loads, is never a .tmp, and holds exactly what was written for its step.
TEST_F(CheckpointTest, KillNineDuringWritesNeverLosesTheLastCheckpoint) {
  // How long one checkpoint takes here, so kills land in every phase of a
  // write (HDF5 writes, fsync, rename, LATEST) whatever the machine's speed.
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t step : {1, 2, 3}) {
    State s(step, 2, 512, 256);
    ASSERT_TRUE(WriteCheckpoint(dir_, s.data, 2).ok());
  }
  const double write_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 3;
  Rng rng(2024);
  int left_tmp = 0, progressed = 0;
  int64_t last_seen = 3;
  for (int rep = 0; rep < 25; ++rep) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      // Child: write checkpoints in a loop until killed.
      for (int64_t step = last_seen + 1;; ++step) {
        State s(step, 2, 512, 256);
        if (!WriteCheckpoint(dir_, s.data, 2).ok()) ::_exit(3);
      }
    }
    const auto delay = static_cast<int64_t>(write_us * 3 * rng.Uniform());
    std::this_thread::sleep_for(std::chrono::microseconds(delay));
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << "writer exited on its own (status " << status << ")";
    auto names = fs::ListDir(dir_);
    ASSERT_TRUE(names.ok());
    for (const auto& n : *names) left_tmp += n.find(".h5.tmp") != std::string::npos;
    auto found = FindLatestValid(dir_);
    ASSERT_TRUE(found.ok()) << "rep " << rep << ": " << found.status().ToString();
    const Checkpoint& ck = found->checkpoint;
    EXPECT_EQ(ck.path.find(".tmp"), std::string::npos);
    EXPECT_GE(ck.meta.step, last_seen) << "rep " << rep << ": went backwards";
    State want(ck.meta.step, 2, 512, 256);
    ExpectMatches(ck, want);
    progressed += ck.meta.step > last_seen;
    last_seen = ck.meta.step;
  }
  std::printf("[ info ] one write %.1f ms; after 25 kills: step %lld, %d kills mid-write (.tmp left), "
              "%d reps completed a checkpoint\n",
              write_us / 1000, static_cast<long long>(last_seen), left_tmp, progressed);
  EXPECT_GT(progressed, 0) << "no kill came after a complete write: the test did not exercise much";
}

}  // namespace
}  // namespace hpcai::io
