// The training loop under real ranks, real HDF5 data and the real model /
// optimizer (ctest runs this binary at np 1, 2, 3): determinism, world-size
// independence, the numerical guard and error agreement.
#include <gtest/gtest.h>
#include <mpi.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <map>

#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/base/rng.h"
#include "hpcai/io/dataset.h"
#include "hpcai/io/rundir.h"
#include "hpcai/runtime/communicator.h"
#include "hpcai/runtime/trainer.h"

namespace hpcai::runtime {
namespace {

constexpr int kFeatures = 12, kClasses = 3;

int WorldRank() {
  int r = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  return r;
}

// One directory per test binary run, the same on every rank.
std::string TestRoot() {
  static std::string root;
  if (root.empty()) {
    long pid = static_cast<long>(getpid());
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    const char* base = std::getenv("HPCAI_TEST_TMP");
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    root = std::string(base && *base ? base : "/tmp") + "/mpi-train-np" + std::to_string(size) + "-" +
           std::to_string(pid);
  }
  return root;
}

// A learnable synthetic problem: class = argmax of 3 fixed linear scores.
// `nan_sample` >= 0 puts a NaN feature in that sample.
Status WriteDataset(const std::string& dir, int64_t n, uint64_t seed, int64_t nan_sample = -1) {
  io::DatasetLayout layout;
  layout.sample_shape = {kFeatures};
  layout.dtype = "float32";
  layout.num_classes = kClasses;
  layout.samples_per_shard = 150;  // several shards with an uneven tail
  layout.chunk_samples = 32;
  HPCAI_ASSIGN_OR_RETURN(auto writer, io::DatasetWriter::Create(dir, layout, n, /*overwrite=*/true));
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(n) * kFeatures);
  std::vector<int32_t> y(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    float score[kClasses] = {0, 0, 0};
    for (int f = 0; f < kFeatures; ++f) {
      const float v = rng.Normal();
      x[i * kFeatures + f] = v;
      for (int c = 0; c < kClasses; ++c) score[c] += v * static_cast<float>(((f * 7 + c * 3) % 5) - 2);
    }
    y[i] = static_cast<int32_t>(std::max_element(score, score + kClasses) - score);
  }
  if (nan_sample >= 0) x[nan_sample * kFeatures + 3] = std::numeric_limits<float>::quiet_NaN();
  HPCAI_RETURN_IF_ERROR(writer->Append(x.data(), y.data(), n));
  return writer->Finish();
}

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    Status st;
    (void)TestRoot();  // collective on first use: every rank, same order
    if (WorldRank() == 0) {
      st = fs::MakeDirs(TestRoot());
      if (st.ok()) st = WriteDataset(TestRoot() + "/train", 700, 11);
      if (st.ok()) st = WriteDataset(TestRoot() + "/val", 230, 12);
      if (st.ok()) st = WriteDataset(TestRoot() + "/train-nan", 700, 11, /*nan_sample=*/123);
    }
    int ok = st.ok() ? 1 : 0;
    MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
    ASSERT_EQ(ok, 1) << st.ToString();
  }
  static void TearDownTestSuite() {
    MPI_Barrier(MPI_COMM_WORLD);
    if (WorldRank() == 0) (void)fs::RemoveAll(TestRoot());
  }

  void SetUp() override {
    auto c = CreateCommunicator(CommOptions{});
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    comm_ = std::move(c).value();
  }

  static ResolvedSpec Spec() {
    ResolvedSpec s;
    s.data.train = TestRoot() + "/train";
    s.data.val = TestRoot() + "/val";
    s.data.prefetch = 2;
    s.model.type = "mlp";
    s.model.hidden = {16, 8};
    s.optimizer.type = "sgd";
    s.optimizer.lr = 0.3;
    s.optimizer.momentum = 0.9;
    s.schedule.type = "cosine";
    s.schedule.warmup_steps = 3;
    s.training.epochs = 3;
    s.training.global_batch = 64;  // 700 = 10 full batches + 60
    s.training.seed = 7;
    s.training.log_every = 1;
    s.training.eval_every = "epoch";
    s.checkpoint.every_steps = 0;
    s.checkpoint.every_minutes = 0;
    return s;
  }

  // Trains in TestRoot()/<name> (fresh) on `comm`; returns the summary.
  static Result<TrainSummary> Run(Communicator& comm, const ResolvedSpec& spec, const std::string& name,
                                  std::optional<int64_t> max_steps = std::nullopt, bool fresh = true,
                                  int64_t stop_at_step = -1) {
    TrainOptions o;
    o.run_dir = TestRoot() + "/" + name;
    if (fresh && comm.rank() == 0) (void)fs::RemoveAll(o.run_dir);
    (void)comm.Barrier();
    o.max_steps = max_steps;
    o.stop_at_step = stop_at_step;
    o.progress = false;
    o.return_params = true;
    o.threads = 1;
    return Train(spec, o, comm);
  }

  // metrics.jsonl lines without the wall-clock fields (those vary run to run).
  static std::vector<std::string> DeterministicMetrics(const std::string& name) {
    auto text = fs::ReadFile(TestRoot() + "/" + name + "/metrics.jsonl");
    EXPECT_TRUE(text.ok()) << text.status().ToString();
    std::vector<std::string> out;
    if (!text.ok()) return out;
    size_t pos = 0;
    while (pos < text->size()) {
      size_t nl = text->find('\n', pos);
      if (nl == std::string::npos) nl = text->size();
      auto j = Json::Parse(text->substr(pos, nl - pos));
      pos = nl + 1;
      EXPECT_TRUE(j.ok());
      if (!j.ok()) continue;
      Json kept = Json::MakeObject();
      for (const auto& [k, v] : j->as_object()) {
        if (k == "samples_per_sec" || k == "data_s" || k == "compute_s" || k == "comm_s" || k == "time_ms" ||
            k == "eval_s") {
          continue;
        }
        kept.set(k, v);
      }
      if (kept.get("type").as_string() == "resume") continue;  // only in resumed runs
      out.push_back(kept.dump());
    }
    return out;
  }

  std::unique_ptr<Communicator> comm_;
};

TEST_F(TrainTest, SameSeedAndWorldSizeIsBitwiseIdentical) {
  ResolvedSpec spec = Spec();
  auto a = Run(*comm_, spec, "det-a");
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = Run(*comm_, spec, "det-b");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->steps, 3 * 11);
  EXPECT_EQ(a->epochs_completed, 3);
  ASSERT_EQ(a->final_params.size(), b->final_params.size());
  ASSERT_FALSE(a->final_params.empty());
  EXPECT_EQ(0, std::memcmp(a->final_params.data(), b->final_params.data(), a->final_params.size() * sizeof(float)));
  EXPECT_EQ(a->val_accuracy, b->val_accuracy);
  // The model learned something (3 balanced-ish classes: chance ~0.33).
  EXPECT_GT(a->val_accuracy, 0.6);

  // Every rank holds the same parameters.
  uint64_t h = 1469598103934665603ull;
  for (float v : a->final_params) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    h = (h ^ bits) * 1099511628211ull;
  }
  uint64_t root = h;
  ASSERT_TRUE(comm_->Broadcast(&root, 1, 0).ok());
  EXPECT_EQ(h, root);

  if (comm_->rank() == 0) {
    auto ma = DeterministicMetrics("det-a");
    auto mb = DeterministicMetrics("det-b");
    EXPECT_EQ(ma.size(), 33u + 3u);  // one line per step (log_every 1) + one eval per epoch
    EXPECT_EQ(ma, mb);
    auto hb = io::ReadHeartbeat(io::RunPaths{TestRoot() + "/det-a"});
    ASSERT_TRUE(hb.ok());
    EXPECT_EQ(hb->phase, "done");
    EXPECT_EQ(hb->step, 33);
    EXPECT_EQ(hb->world_size, comm_->size());
    EXPECT_NEAR(hb->val_accuracy, a->val_accuracy, 1e-6);
  }
}

// The same global batch on 1, 2, ... ranks: the same trajectory within float
// tolerance (only the summation order of the gradient differs).
TEST_F(TrainTest, WorldSizesFollowTheSameTrajectory) {
  ResolvedSpec spec = Spec();
  spec.data.val.reset();
  const int world = comm_->size();
  std::vector<float> ref_params;
  std::vector<double> ref_losses;
  for (int k = 1; k <= world; ++k) {
    auto sub = comm_->Split(comm_->rank() < k ? 0 : -1);
    ASSERT_TRUE(sub.ok());
    if (*sub) {
      auto r = Run(**sub, spec, "ws" + std::to_string(k), /*max_steps=*/12);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->steps, 12);
      if (comm_->rank() == 0) {
        std::vector<double> losses;
        for (const std::string& line : DeterministicMetrics("ws" + std::to_string(k))) {
          auto j = Json::Parse(line);
          if (j->get("type").as_string() == "train") losses.push_back(j->get("loss").as_double());
        }
        ASSERT_EQ(losses.size(), 12u);
        if (k == 1) {
          ref_params = r->final_params;
          ref_losses = losses;
        } else {
          for (size_t i = 0; i < losses.size(); ++i) {
            EXPECT_NEAR(losses[i], ref_losses[i], 1e-4 * (1 + std::fabs(ref_losses[i]))) << "k=" << k << " step " << i;
          }
          ASSERT_EQ(r->final_params.size(), ref_params.size());
          double max_diff = 0;
          for (size_t i = 0; i < ref_params.size(); ++i) {
            max_diff = std::max(max_diff, static_cast<double>(std::fabs(r->final_params[i] - ref_params[i])));
          }
          EXPECT_LT(max_diff, 1e-4) << k << " ranks vs 1 rank";
        }
      }
    }
    ASSERT_TRUE(comm_->Barrier().ok());
  }
}

// Interrupted after step k and resumed == uninterrupted, bit for bit
// (parameters and every deterministic metrics value), for k mid-epoch,
// mid-logging-window, at an epoch's end and just before the end.  Adam
// (step count for bias correction) and dropout (per-rank RNG streams) make
// every part of the state matter.
TEST_F(TrainTest, ResumeAfterAnyStepIsBitwiseExact) {
  ResolvedSpec spec = Spec();
  spec.optimizer.type = "adam";
  spec.optimizer.lr = 0.01;
  spec.model.dropout = 0.2;
  spec.training.log_every = 4;
  spec.checkpoint.every_steps = 7;
  spec.checkpoint.async = true;
  auto ref = Run(*comm_, spec, "resume-ref");
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  ASSERT_EQ(ref->steps, 33);
  const auto ref_metrics = comm_->rank() == 0 ? DeterministicMetrics("resume-ref") : std::vector<std::string>{};
  for (int64_t k : {5, 11, 18, 32}) {
    const std::string name = "resume-" + std::to_string(k);
    auto first = Run(*comm_, spec, name, std::nullopt, /*fresh=*/true, /*stop_at_step=*/k);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    EXPECT_EQ(first->steps, k);
    EXPECT_EQ(first->stop_signal, -1);
    EXPECT_TRUE(first->checkpointed);
    auto second = Run(*comm_, spec, name, std::nullopt, /*fresh=*/false);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    EXPECT_EQ(second->resumed_from_step, k);
    EXPECT_EQ(second->steps, 33);
    EXPECT_EQ(second->stop_signal, 0);
    ASSERT_EQ(second->final_params.size(), ref->final_params.size());
    EXPECT_EQ(0, std::memcmp(second->final_params.data(), ref->final_params.data(),
                             ref->final_params.size() * sizeof(float)))
        << "interrupted after step " << k;
    EXPECT_EQ(second->val_accuracy, ref->val_accuracy);
    if (comm_->rank() == 0) {
      EXPECT_EQ(DeterministicMetrics(name), ref_metrics) << "interrupted after step " << k;
    }
  }
}

// A flipped byte in the newest checkpoint: every rank falls back to the
// previous one, and the run still ends exactly where the uninterrupted one did.
TEST_F(TrainTest, CorruptLatestCheckpointFallsBackToThePreviousOne) {
  ResolvedSpec spec = Spec();
  spec.checkpoint.every_steps = 7;
  spec.checkpoint.async = false;
  auto ref = Run(*comm_, spec, "fallback-ref");
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  auto first = Run(*comm_, spec, "fallback", std::nullopt, true, /*stop_at_step=*/18);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  if (comm_->rank() == 0) {
    const std::string path = TestRoot() + "/fallback/checkpoints/ckpt-18.h5";
    auto bytes = fs::ReadFile(path);
    ASSERT_TRUE(bytes.ok()) << bytes.status().ToString();
    std::string b = *bytes;
    b[b.size() / 2] ^= 0x5a;
    ASSERT_TRUE(fs::AtomicWriteFile(path, b).ok());
  }
  auto second = Run(*comm_, spec, "fallback", std::nullopt, /*fresh=*/false);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  EXPECT_EQ(second->resumed_from_step, 14);  // ckpt-14.h5, the periodic one before
  EXPECT_EQ(0, std::memcmp(second->final_params.data(), ref->final_params.data(),
                           ref->final_params.size() * sizeof(float)));
  if (comm_->rank() == 0) {
    EXPECT_EQ(DeterministicMetrics("fallback"), DeterministicMetrics("fallback-ref"));
  }
}

// every_minutes uses rank 0's clock; the decision travels in the control
// tensor, so all ranks checkpoint after the same step (a disagreement would
// hang in the RNG gather).  Checkpointing never changes the trajectory.
TEST_F(TrainTest, TimeBasedCheckpointsAreAgreedAndChangeNothing) {
  ResolvedSpec spec = Spec();
  spec.data.val.reset();
  auto ref = Run(*comm_, spec, "minutes-ref");
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  spec.checkpoint.every_minutes = 1e-6;  // due after every step
  spec.checkpoint.keep_last = 0;         // keep all
  auto r = Run(*comm_, spec, "minutes");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(0, std::memcmp(r->final_params.data(), ref->final_params.data(), ref->final_params.size() * sizeof(float)));
  if (comm_->rank() == 0) {
    auto files = fs::ListDir(TestRoot() + "/minutes/checkpoints");
    ASSERT_TRUE(files.ok());
    size_t ckpts = 0;
    for (const std::string& f : *files) ckpts += f.rfind("ckpt-", 0) == 0 && f.size() > 3 && f.substr(f.size() - 3) == ".h5";
    EXPECT_GE(ckpts, 10u);  // about one per step (33), minus the ones rank 0's clock skipped
  }
}

TEST_F(TrainTest, CheckpointOfAnotherModelIsRefused) {
  ResolvedSpec spec = Spec();
  spec.data.val.reset();
  auto first = Run(*comm_, spec, "othermodel", std::nullopt, true, /*stop_at_step=*/3);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  spec.model.hidden = {32};
  auto second = Run(*comm_, spec, "othermodel", std::nullopt, /*fresh=*/false);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Code::kFailedPrecondition);
  EXPECT_NE(second.status().message().find("different model"), std::string::npos) << second.status().message();
}

TEST_F(TrainTest, NonFiniteInputStopsNamingStepAndSample) {
  ResolvedSpec spec = Spec();
  spec.data.train = TestRoot() + "/train-nan";
  spec.data.val.reset();
  auto r = Run(*comm_, spec, "nan-stop");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNumerical);
  EXPECT_EQ(ExitCodeFor(r.status()), exit_code::kNumerical);
  EXPECT_NE(r.status().message().find("step "), std::string::npos) << r.status().message();
  // The NaN is in the data: the message names the sample (123 of the
  // dataset; its position in the shuffled batch varies).
  EXPECT_NE(r.status().message().find("the input holds NaN/Inf: sample "), std::string::npos)
      << r.status().message();
  EXPECT_NE(r.status().message().find("skip_nonfinite"), std::string::npos) << r.status().message();
  // Every rank reports the same failure.
  std::string mine = r.status().message(), root = mine;
  ASSERT_TRUE(comm_->BroadcastString(&root, 0).ok());
  EXPECT_EQ(mine, root);
  if (comm_->rank() == 0) {
    auto hb = io::ReadHeartbeat(io::RunPaths{TestRoot() + "/nan-stop"});
    ASSERT_TRUE(hb.ok());
    EXPECT_EQ(hb->phase, "failed");
  }
}

TEST_F(TrainTest, DivergenceStopsNamingTheLayer) {
  ResolvedSpec spec = Spec();
  spec.data.val.reset();
  spec.optimizer.lr = 1e30;  // the first update overflows the weights
  spec.schedule.warmup_steps = 0;
  auto r = Run(*comm_, spec, "diverge");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNumerical);
  EXPECT_NE(r.status().message().find("first non-finite value: "), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("layer"), std::string::npos) << r.status().message();
  EXPECT_EQ(r.status().message().find("input holds"), std::string::npos) << r.status().message();
  std::string mine = r.status().message(), root = mine;
  ASSERT_TRUE(comm_->BroadcastString(&root, 0).ok());
  EXPECT_EQ(mine, root);
}

TEST_F(TrainTest, SkipNonFiniteSkipsOnlyThoseSteps) {
  ResolvedSpec spec = Spec();
  spec.data.train = TestRoot() + "/train-nan";
  spec.training.skip_nonfinite = true;
  auto r = Run(*comm_, spec, "nan-skip");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->steps, 33);
  EXPECT_EQ(r->skipped_steps, 3);  // the batch holding the NaN sample, once per epoch
  for (float v : r->final_params) ASSERT_TRUE(std::isfinite(v));
  EXPECT_GT(r->val_accuracy, 0.6);
}

TEST_F(TrainTest, MissingDataFailsTogether) {
  ResolvedSpec spec = Spec();
  spec.data.train = TestRoot() + "/does-not-exist";
  auto r = Run(*comm_, spec, "missing");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ExitCodeFor(r.status()), exit_code::kDataError) << r.status().ToString();
  EXPECT_NE(r.status().message().find("does-not-exist"), std::string::npos);
  if (comm_->size() > 1) {
    EXPECT_EQ(r.status().message().rfind("rank 0: ", 0), 0u) << r.status().message();
  }
}

TEST_F(TrainTest, ModelThatDoesNotFitTheDataIsASpecError) {
  ResolvedSpec spec = Spec();
  spec.model.type = "cnn";  // flat 12-feature samples
  auto r = Run(*comm_, spec, "badmodel");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(ExitCodeFor(r.status()), exit_code::kSpecError) << r.status().ToString();
}

// HPCAI_GRAD_SYNC picks the gradient path (A/B measurements); a wrong value is
// an error naming it on every rank, and `mpi` trains like the default.
TEST_F(TrainTest, GradSyncEnvironmentIsCheckedAndMpiPathTrains) {
  ResolvedSpec spec = Spec();
  setenv("HPCAI_GRAD_SYNC", "bogus", 1);
  auto bad = Run(*comm_, spec, "gradsync-bad");
  setenv("HPCAI_GRAD_SYNC", "mpi", 1);
  auto mpi = Run(*comm_, spec, "gradsync-mpi");
  unsetenv("HPCAI_GRAD_SYNC");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("HPCAI_GRAD_SYNC='bogus'"), std::string::npos) << bad.status().ToString();
  ASSERT_TRUE(mpi.ok()) << mpi.status().ToString();
}

}  // namespace
}  // namespace hpcai::runtime
