// The `hpcai validate`, `hpcai init` and `hpcai spec` commands, run as the
// real binary (build/bin/hpcai): exit codes, exact error text, summaries.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/configs/spec.h"
#include "hpcai/configs/spec_docs.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

namespace stdfs = std::filesystem;

std::string HpcaiPath() {
  const char* dir = std::getenv("HPCAI_BIN_DIR");
  std::string bin = (dir && *dir) ? std::string(dir) : fs::Dirname(fs::SelfExe());  // tests live beside hpcai
  return bin + "/hpcai";
}

std::string Quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) {
    if (c == '\'') q += "'\\''";
    else q += c;
  }
  return q + "'";
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct RunResult {
  int rc = -1;
  std::string out, err;
};

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(stdfs::exists(HpcaiPath())) << HpcaiPath() << " is missing: build the `hpcai` target";
    dir_ = (stdfs::temp_directory_path() /
            ("hpcai-cli-test-" + std::to_string(::getpid()) + "-" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    stdfs::remove_all(dir_);
    stdfs::create_directories(dir_);
  }
  void TearDown() override { stdfs::remove_all(dir_); }

  // Runs hpcai with `args` in dir_ (NO_COLOR set, fixed HOME), stdin from `input`.
  RunResult Hpcai(const std::vector<std::string>& args, const std::string& input = "") {
    std::string cmd = "cd " + Quote(dir_) + " && env NO_COLOR=1 HOME=/home/tester " + Quote(HpcaiPath());
    for (const auto& a : args) {
      cmd += ' ';
      cmd += Quote(a);
    }
    std::ofstream(dir_ + "/.stdin") << input;
    cmd += " <" + Quote(dir_ + "/.stdin") + " >" + Quote(dir_ + "/.out") + " 2>" + Quote(dir_ + "/.err");
    int status = std::system(cmd.c_str());
    RunResult r;
    r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = Slurp(dir_ + "/.out");
    r.err = Slurp(dir_ + "/.err");
    return r;
  }
  std::string Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
    return dir_ + "/" + name;
  }
  std::string Example(const std::string& name) {
    return testing_util::SourceDir() + "/configs/examples/" + name;
  }

  std::string dir_;
};

TEST_F(Cli, ValidateExamplePrintsOkAndSummary) {
  RunResult r = Hpcai({"validate", "--no-data", Example("fashion-mnist-mlp.yaml")});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(r.out.rfind("ok: ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("ranks       2 = 1 node x 2 tasks"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("batch       global 256 = 128 per rank"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("backends cpu"), std::string::npos) << r.out;
  // The printed hash is the spec's hash (loaded in the same working directory).
  SpecLoadOptions o;
  auto cwd = stdfs::current_path();
  stdfs::current_path(dir_);
  auto spec = LoadSpecFile(Example("fashion-mnist-mlp.yaml"), o);
  stdfs::current_path(cwd);
  ASSERT_TRUE(spec.ok());
  EXPECT_NE(r.out.find("hash        " + SpecHash(*spec.spec) + "\n"), std::string::npos) << r.out;
  EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), 24);  // one screen
}

TEST_F(Cli, ValidateEveryExample) {
  for (const char* e : {"fashion-mnist-mlp.yaml", "fashion-mnist-cnn.yaml", "smoke.yaml"}) {
    RunResult r = Hpcai({"validate", "--no-data", Example(e)});
    EXPECT_EQ(r.rc, 0) << e << "\n" << r.err;
    EXPECT_EQ(r.out.rfind("ok: ", 0), 0u) << e;
  }
}

TEST_F(Cli, ValidateErrorsExactTextAndExit2) {
  std::string spec = Write("exp.yaml", "name: demo\nresources:\n  nodse: 2\n");
  RunResult r = Hpcai({"validate", "exp.yaml", "--set", "model.hiden=[512,256]", "--set", "optimizer.lr=0.1"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "exp.yaml:3:3: resources.nodse: unknown key; did you mean `nodes`?\n"
            "    nodse: 2\n"
            "    ^\n"
            "--set #1:1:1: model.hiden: unknown key; did you mean `model.hidden`?\n"
            "  model.hiden=[512,256]\n"
            "  ^\n"
            "hpcai: 2 problems in exp.yaml\n");
}

TEST_F(Cli, ValidateEveryHostileFixtureExits2) {
  const std::string dir = testing_util::SourceDir() + "/tests/configs/hostile";
  int n = 0;
  for (const auto& e : stdfs::directory_iterator(dir)) {
    RunResult r = Hpcai({"validate", "--no-data", e.path().string()});
    EXPECT_EQ(r.rc, 2) << e.path() << "\n" << r.out << r.err;
    EXPECT_EQ(r.err.rfind(e.path().string() + ":", 0), 0u) << r.err;
    EXPECT_NE(r.err.find("hpcai: "), std::string::npos);
    ++n;
  }
  EXPECT_GE(n, 20);
}

TEST_F(Cli, ValidateJson) {
  Write("ok.yaml", "name: j\nresources: {tasks_per_node: 4}\ntraining: {global_batch: 64}\n");
  RunResult ok = Hpcai({"validate", "--json", "--no-data", "ok.yaml"});
  ASSERT_EQ(ok.rc, 0) << ok.err;
  auto j = Json::Parse(ok.out);
  ASSERT_TRUE(j.ok()) << ok.out;
  EXPECT_TRUE(j->get("ok").as_bool());
  EXPECT_EQ(j->get("name").as_string(), "j");
  EXPECT_EQ(j->get("world_size").as_int(), 4);
  EXPECT_EQ(j->get("per_rank_batch").as_int(), 16);
  EXPECT_EQ(j->get("hash").as_string().size(), 64u);
  EXPECT_TRUE(j->get("steps_per_epoch").is_null());
  Write("bad.yaml", "training:\n  epochs: ten\n");
  RunResult bad = Hpcai({"validate", "--json", "bad.yaml"});
  EXPECT_EQ(bad.rc, 2);
  auto b = Json::Parse(bad.out);
  ASSERT_TRUE(b.ok()) << bad.out;
  EXPECT_FALSE(b->get("ok").as_bool(true));
  ASSERT_EQ(b->get("errors").as_array().size(), 1u);
  const Json& e = b->get("errors").as_array()[0];
  EXPECT_EQ(e.get("line").as_int(), 2);
  EXPECT_EQ(e.get("column").as_int(), 11);
  EXPECT_EQ(e.get("key").as_string(), "training.epochs");
}

TEST_F(Cli, ValidateStdinMissingFileAndUsage) {
  RunResult in = Hpcai({"validate", "--no-data", "-"}, "name: piped\n");
  EXPECT_EQ(in.rc, 0) << in.err;
  EXPECT_EQ(in.out.rfind("ok: <stdin> (piped)", 0), 0u) << in.out;
  RunResult missing = Hpcai({"validate", "nope.yaml"});
  EXPECT_EQ(missing.rc, 2);
  EXPECT_NE(missing.err.find("nope.yaml: cannot read the spec: no such file"), std::string::npos) << missing.err;
  RunResult usage = Hpcai({"validate"});
  EXPECT_EQ(usage.rc, 2);
}

TEST_F(Cli, ValidateGpuNeedsCudaBuild) {
  // What this build has, as hpcai reports it (the macro is read in one place only).
  Write("cpu.yaml", "name: c\n");
  auto info = Json::Parse(Hpcai({"validate", "--json", "--no-data", "cpu.yaml"}).out);
  ASSERT_TRUE(info.ok());
  bool cuda = false;
  for (const auto& b : info->get("build_backends").as_array()) cuda = cuda || b.as_string() == "cuda";
  EXPECT_EQ(info->get("build_backends").as_array().at(0).as_string(), "cpu");
  Write("gpu.yaml", "resources: {gpus_per_node: 1}\n");
  RunResult r = Hpcai({"validate", "--no-data", "gpu.yaml"});
  if (cuda) {
    EXPECT_EQ(r.rc, 0) << r.err;
  } else {
    EXPECT_EQ(r.rc, 2);
    EXPECT_NE(r.err.find("-DHPCAI_WITH_CUDA=ON"), std::string::npos) << r.err;
  }
}

TEST_F(Cli, InitWritesValidSpecsAndRefusesToOverwrite) {
  for (const char* t : {"mlp", "cnn", "linear"}) {
    const std::string file = std::string(t) + ".yaml";
    RunResult r = Hpcai({"init", "--template", t, file});
    ASSERT_EQ(r.rc, 0) << r.err;
    EXPECT_EQ(Slurp(dir_ + "/" + file), *StarterSpec(t));
    RunResult v = Hpcai({"validate", "--no-data", file});
    EXPECT_EQ(v.rc, 0) << t << "\n" << v.err;
  }
  RunResult def = Hpcai({"init"});
  ASSERT_EQ(def.rc, 0) << def.err;
  EXPECT_EQ(Slurp(dir_ + "/experiment.yaml"), *StarterSpec("mlp"));
  Write("experiment.yaml", "mine\n");
  RunResult again = Hpcai({"init"});
  EXPECT_EQ(again.rc, 1);
  EXPECT_NE(again.err.find("already exists; not overwriting it (use --force"), std::string::npos) << again.err;
  EXPECT_EQ(Slurp(dir_ + "/experiment.yaml"), "mine\n");
  RunResult force = Hpcai({"init", "--force", "--template", "cnn"});
  EXPECT_EQ(force.rc, 0);
  EXPECT_EQ(Slurp(dir_ + "/experiment.yaml"), *StarterSpec("cnn"));
  RunResult out = Hpcai({"init", "--template", "linear", "-"});
  EXPECT_EQ(out.rc, 0);
  EXPECT_EQ(out.out, *StarterSpec("linear"));
  RunResult bad = Hpcai({"init", "--template", "rnn", "x.yaml"});
  EXPECT_EQ(bad.rc, 2);
  EXPECT_FALSE(stdfs::exists(dir_ + "/x.yaml"));
}

TEST_F(Cli, SpecDefaultsMarkdownAndResolved) {
  RunResult d = Hpcai({"spec", "--defaults"});
  EXPECT_EQ(d.rc, 0);
  EXPECT_EQ(d.out, SpecDefaultsYaml());
  RunResult m = Hpcai({"spec", "--markdown"});
  EXPECT_EQ(m.rc, 0);
  EXPECT_EQ(m.out, SpecReferenceMarkdown());
  Write("s.yaml", "name: s\nruns_root: /r\ndata: {train: /t, val: /v}\nsweep: {optimizer.lr: [0.1, 0.2]}\n");
  RunResult c = Hpcai({"spec", "s.yaml", "--set", "training.epochs=3"});
  ASSERT_EQ(c.rc, 0) << c.err;
  auto back = testing_util::Load(c.out);
  ASSERT_TRUE(back.ok()) << back.FormatAll();
  EXPECT_EQ(back.spec->training.epochs, 3);
  EXPECT_EQ(CanonicalYaml(*back.spec), c.out);
  RunResult h = Hpcai({"spec", "s.yaml", "--hash", "--set", "training.epochs=3"});
  EXPECT_EQ(h.out, SpecHash(*back.spec) + "\n");
  RunResult x = Hpcai({"spec", "s.yaml", "--expand"});
  EXPECT_EQ(x.rc, 0);
  EXPECT_NE(x.out.find("name: s-0\n"), std::string::npos);
  EXPECT_NE(x.out.find("\n---\n"), std::string::npos);
  EXPECT_NE(x.out.find("name: s-1\n"), std::string::npos);
  RunResult none = Hpcai({"spec"});
  EXPECT_EQ(none.rc, 2);
}

// Data checks against real HDF5 data sets made by `hpcai data synth`.
class CliData : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    Synth("data/train", {"--samples", "100", "--features", "20", "--classes", "3"});
    Synth("data/val", {"--samples", "50", "--features", "20", "--classes", "3", "--seed", "2"});
    Synth("data/img", {"--samples", "50", "--shape", "1,8,8", "--classes", "3"});
    Synth("data/img5", {"--samples", "50", "--shape", "1,8,8", "--classes", "5"});
    Write("s.yaml", "name: d\ndata: {train: data/train, val: data/val}\ntraining: {global_batch: 20, epochs: 3}\n");
  }
  void Synth(const std::string& out, std::vector<std::string> args) {
    args.insert(args.begin(), {"data", "synth", "-q", "--out", out});
    RunResult r = Hpcai(args);
    ASSERT_EQ(r.rc, 0) << r.err;
  }
};

TEST_F(CliData, SummaryFromTheData) {
  RunResult r = Hpcai({"validate", "s.yaml"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("data        100 train / 50 val samples of 20 float32, 3 classes\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("steps       5 per epoch x 3 epochs = 15\n"), std::string::npos) << r.out;
  const int64_t params = 20 * 256 + 256 + 256 * 128 + 128 + 128 * 3 + 3;
  EXPECT_NE(r.out.find("model       mlp 20-256-128-3, 38,659 parameters\n"), std::string::npos) << r.out;
  EXPECT_EQ(params, 38659);
  EXPECT_NE(r.out.find("checkpoint  ~366.0 KiB each (params + sgd momentum), keep 3\n"), std::string::npos) << r.out;
  RunResult j = Hpcai({"validate", "--json", "s.yaml", "--set", "data.drop_last=true", "--set", "training.global_batch=30",
                       "--set", "training.max_steps=7"});
  ASSERT_EQ(j.rc, 0) << j.err;
  auto parsed = Json::Parse(j.out);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->get("steps_per_epoch").as_int(), 3);  // 100 / 30, last partial batch dropped
  EXPECT_EQ(parsed->get("total_steps").as_int(), 7);      // max_steps caps 3 epochs x 3
  EXPECT_EQ(parsed->get("parameters").as_int(), params);
  EXPECT_EQ(parsed->get("checkpoint_bytes").as_int(), params * 8 + 65536);
}

TEST_F(CliData, CnnInputMustMatchTheData) {
  RunResult flat = Hpcai({"validate", "s.yaml", "--set", "model.type=cnn"});
  EXPECT_EQ(flat.rc, 2);
  EXPECT_EQ(flat.err, "hpcai: error: the model does not fit data.train " + dir_ +
                          "/data/train (samples 20, 3 classes): model.type cnn needs image samples of shape CxHxW "
                          "(e.g. 1x28x28), but the data's samples are 20 (rank 1); use model.type mlp, or convert "
                          "the data with its image shape\n");
  RunResult img = Hpcai({"validate", "s.yaml", "--set", "data.train=data/img", "--set", "data.val=null", "--set",
                         "model.type=cnn", "--set", "training.global_batch=10"});
  EXPECT_EQ(img.rc, 0) << img.err;
  EXPECT_NE(img.out.find("cnn 1x8x8 -> 32x4x4 -> 64x2x2 -> 128 -> 3"), std::string::npos) << img.out;
  RunResult tiny = Hpcai({"validate", "s.yaml", "--set", "data.train=data/img", "--set", "data.val=null", "--set",
                          "model.type=cnn", "--set", "training.global_batch=10", "--set",
                          "model.conv=[{filters: 4}, {filters: 4}, {filters: 4}, {filters: 4}]"});
  EXPECT_EQ(tiny.rc, 2);
  EXPECT_NE(tiny.err.find("model.conv[3]: pool 2 is larger than its 1x1 feature map (input 1x8x8)"),
            std::string::npos)
      << tiny.err;
}

TEST_F(CliData, TrainAndValMustAgree) {
  RunResult shape = Hpcai({"validate", "s.yaml", "--set", "data.val=data/img"});
  EXPECT_EQ(shape.rc, 3);
  EXPECT_EQ(shape.err, "hpcai: error: data.val " + dir_ + "/data/img has samples of shape 1x8x8 but data.train " +
                           dir_ + "/data/train has 20; both must come from the same conversion\n");
  RunResult classes = Hpcai({"validate", "s.yaml", "--set", "data.train=data/img", "--set", "data.val=data/img5",
                             "--set", "training.global_batch=10"});
  EXPECT_EQ(classes.rc, 3);
  EXPECT_NE(classes.err.find("has 5 classes but data.train " + dir_ + "/data/img has 3"), std::string::npos)
      << classes.err;
  RunResult missing = Hpcai({"validate", "s.yaml", "--set", "data.val=data/nope"});
  EXPECT_EQ(missing.rc, 3);
  EXPECT_NE(missing.err.find("data.val: dataset directory '" + dir_ + "/data/nope' does not exist"), std::string::npos)
      << missing.err;
}

TEST_F(CliData, BrokenDataSetsNameTheFile) {
  std::ofstream(dir_ + "/data/val/manifest.json") << "{not json";
  RunResult r = Hpcai({"validate", "s.yaml"});
  EXPECT_EQ(r.rc, 3);
  EXPECT_NE(r.err.find("data.val: " + dir_ + "/data/val/manifest.json: not valid JSON"), std::string::npos) << r.err;
  stdfs::remove(dir_ + "/data/train/manifest.json");
  RunResult t = Hpcai({"validate", "s.yaml"});
  EXPECT_EQ(t.rc, 3);
  EXPECT_NE(t.err.find("data.train: '" + dir_ + "/data/train' has no manifest.json"), std::string::npos) << t.err;
}

TEST_F(CliData, BatchLargerThanTheDataWithDropLast) {
  RunResult r = Hpcai({"validate", "s.yaml", "--set", "data.drop_last=true", "--set", "training.global_batch=128"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("training.global_batch 128 is larger than the 100 samples of data.train"), std::string::npos)
      << r.err;
}

TEST_F(CliData, UnreachableDataIsANoteAndNoDataSkips) {
  RunResult r = Hpcai({"validate", "s.yaml", "--set", "data.train=/nonexistent/train"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_NE(r.out.find("data        not checked: /nonexistent/train is not reachable from here"), std::string::npos)
      << r.out;
  std::ofstream(dir_ + "/data/val/manifest.json") << "{not json";
  RunResult skip = Hpcai({"validate", "--no-data", "s.yaml"});
  EXPECT_EQ(skip.rc, 0) << skip.err;
  EXPECT_NE(skip.out.find("data        not checked (--no-data)"), std::string::npos);
}

TEST_F(CliData, EverySweepPointIsCheckedAgainstTheData) {
  Write("sw.yaml", "name: sw\ndata: {train: data/img, val: null}\ntraining: {global_batch: 10}\n"
                   "model: {type: cnn}\nsweep: {model.conv: [[{filters: 8}], [{filters: 8, kernel: 9, padding: 0}]]}\n");
  RunResult r = Hpcai({"validate", "sw.yaml"});
  EXPECT_EQ(r.rc, 2);
  EXPECT_NE(r.err.find("sweep point 1 (sw-1): the model does not fit data.train"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("kernel 9 (padding 0) is larger than its 8x8 input"), std::string::npos) << r.err;
}

// The shipped examples against the real data they name (Fashion-MNIST from
// the dataset-fashion-mnist package, the smoke set from `hpcai data synth`,
// made as the examples' comments say).
TEST_F(Cli, ExamplesValidateAgainstTheirData) {
  const std::string fmnist = "/usr/share/datasets/fashion-mnist";
  ASSERT_TRUE(stdfs::exists(fmnist)) << fmnist << " is missing (Debian package dataset-fashion-mnist)";
  RunResult conv = Hpcai({"data", "convert", "-q", "--from", "idx", fmnist, "--out", "data/fmnist"});
  ASSERT_EQ(conv.rc, 0) << conv.err;
  RunResult s1 = Hpcai({"data", "synth", "-q", "--samples", "2048", "--features", "32", "--classes", "4", "--out",
                        "data/smoke/train"});
  RunResult s2 = Hpcai({"data", "synth", "-q", "--samples", "512", "--features", "32", "--classes", "4", "--seed", "1",
                        "--out", "data/smoke/val"});
  ASSERT_EQ(s1.rc + s2.rc, 0) << s1.err << s2.err;
  RunResult mlp = Hpcai({"validate", Example("fashion-mnist-mlp.yaml")});
  ASSERT_EQ(mlp.rc, 0) << mlp.err;
  EXPECT_NE(mlp.out.find("60,000 train / 10,000 val samples of 1x28x28 uint8, 10 classes"), std::string::npos) << mlp.out;
  EXPECT_NE(mlp.out.find("235 per epoch x 15 epochs = 3,525"), std::string::npos) << mlp.out;
  EXPECT_NE(mlp.out.find("mlp 784-256-128-10, 235,146 parameters"), std::string::npos) << mlp.out;
  RunResult cnn = Hpcai({"validate", Example("fashion-mnist-cnn.yaml")});
  ASSERT_EQ(cnn.rc, 0) << cnn.err;
  EXPECT_NE(cnn.out.find("cnn 1x28x28 -> 32x14x14 -> 64x7x7 -> 128 -> 10, 421,642 parameters"), std::string::npos)
      << cnn.out;
  RunResult smoke = Hpcai({"validate", Example("smoke.yaml")});
  ASSERT_EQ(smoke.rc, 0) << smoke.err;
  EXPECT_NE(smoke.out.find("32 per epoch x 1 epoch = 32"), std::string::npos) << smoke.out;
}

}  // namespace
}  // namespace hpcai
