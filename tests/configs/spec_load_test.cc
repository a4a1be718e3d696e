// Loading, defaults, type checks, semantic checks, overrides, interpolation.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "hpcai/configs/spec.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

using testing_util::HasDiag;
using testing_util::Load;
using testing_util::OnlyDiag;

std::string Cwd() { return std::filesystem::current_path().string(); }

TEST(SpecLoad, MinimalSpecGetsEveryDefault) {
  auto r = Load("name: tiny\n");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  const ResolvedSpec& s = *r.spec;
  EXPECT_EQ(s.name, "tiny");
  EXPECT_EQ(s.backend, "auto");
  EXPECT_EQ(s.launcher, "srun");
  EXPECT_EQ(s.resources.nodes, 1);
  EXPECT_EQ(s.resources.tasks_per_node, 2);
  EXPECT_EQ(s.resources.mem, "4G");
  EXPECT_EQ(s.resources.time, "00:30:00");
  EXPECT_FALSE(s.resources.partition.has_value());
  EXPECT_EQ(s.model.type, "mlp");
  EXPECT_EQ(s.model.hidden, (std::vector<int>{256, 128}));
  EXPECT_TRUE(s.model.conv.empty());
  EXPECT_EQ(s.optimizer.type, "sgd");
  EXPECT_DOUBLE_EQ(s.optimizer.lr, 0.05);
  EXPECT_EQ(s.training.global_batch, 256);
  EXPECT_EQ(s.training.eval_every, "epoch");
  EXPECT_EQ(s.training.seed, 1234u);
  EXPECT_EQ(s.checkpoint.keep_last, 3);
  EXPECT_EQ(s.preemption.signal, "USR1");
  EXPECT_TRUE(s.sweep.empty());
  // Relative default paths are stored absolute, against the working directory.
  EXPECT_EQ(s.runs_root, Cwd() + "/runs");
  EXPECT_EQ(s.data.train, Cwd() + "/data/fmnist/train");
  EXPECT_EQ(s.data.val.value_or(""), Cwd() + "/data/fmnist/test");
  EXPECT_EQ(s.base_dir, Cwd());
  EXPECT_EQ(s.source_path, "");
}

TEST(SpecLoad, RelativePathsResolveAgainstCwdAndAbsoluteOnesStay) {
  auto r = Load("data: {train: ./d/../x/train/, val: /abs/val}\nruns_root: ~/runs\n"
                "train_binary: bin/hpcai-train\n");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  EXPECT_EQ(r.spec->data.train, Cwd() + "/x/train");
  EXPECT_EQ(r.spec->data.val.value_or(""), "/abs/val");
  EXPECT_EQ(r.spec->runs_root, "/home/tester/runs");
  EXPECT_EQ(r.spec->train_binary, Cwd() + "/bin/hpcai-train");
  auto bare = Load("train_binary: hpcai-train\n");  // a path like any other
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare.spec->train_binary, Cwd() + "/hpcai-train");
  auto dflt = Load("name: x\n");
  EXPECT_EQ(dflt.spec->train_binary, "");
  auto none = Load("data: {val: null}\n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.spec->data.val.has_value());
}

TEST(SpecLoad, ModelDefaultsDependOnType) {
  auto cnn = Load("model: {type: cnn}\n");
  ASSERT_TRUE(cnn.ok()) << cnn.FormatAll();
  ASSERT_EQ(cnn.spec->model.conv.size(), 2u);
  EXPECT_EQ(cnn.spec->model.conv[0].filters, 32);
  EXPECT_EQ(cnn.spec->model.conv[1].filters, 64);
  for (const auto& c : cnn.spec->model.conv) {
    EXPECT_EQ(c.kernel, 3);
    EXPECT_EQ(c.stride, 1);
    EXPECT_EQ(c.padding, 1);
    EXPECT_EQ(c.pool, 2);
  }
  EXPECT_EQ(cnn.spec->model.hidden, std::vector<int>{128});

  auto custom = Load("model: {type: cnn, conv: [{filters: 8, kernel: 5, padding: 2}], hidden: []}\n");
  ASSERT_TRUE(custom.ok()) << custom.FormatAll();
  ASSERT_EQ(custom.spec->model.conv.size(), 1u);
  EXPECT_EQ(custom.spec->model.conv[0].filters, 8);
  EXPECT_EQ(custom.spec->model.conv[0].kernel, 5);
  EXPECT_EQ(custom.spec->model.conv[0].pool, 2);
  EXPECT_TRUE(custom.spec->model.hidden.empty());

  auto lin = Load("model: {type: linear}\n");
  ASSERT_TRUE(lin.ok()) << lin.FormatAll();
  EXPECT_TRUE(lin.spec->model.hidden.empty());
}

TEST(SpecLoad, ModelFieldsMustBeComplete) {
  EXPECT_TRUE(HasDiag(Load("model: {type: mlp, hidden: []}\n"), "model.hidden", "at least one hidden layer"));
  EXPECT_TRUE(HasDiag(Load("model: {type: linear, hidden: [10]}\n"), "model.hidden", "no hidden layers"));
  EXPECT_TRUE(HasDiag(Load("model: {type: cnn, conv: []}\n"), "model.conv", "at least one conv layer"));
  EXPECT_TRUE(HasDiag(Load("model: {type: mlp, conv: [{filters: 3}]}\n"), "model.conv", "only to model.type: cnn"));
  EXPECT_TRUE(HasDiag(Load("model: {type: cnn, conv: [{kernel: 3}]}\n"), "model.conv[0]", "needs `filters`"));
  EXPECT_TRUE(HasDiag(Load("model: {type: cnn, conv: [{filters: 3, kernal: 3}]}\n"), "model.conv[0].kernal",
                      "did you mean `kernel`?"));
  EXPECT_TRUE(HasDiag(Load("model: {type: cnn, conv: [{filters: 0}]}\n"), "model.conv[0].filters", "1..65536"));
  EXPECT_TRUE(HasDiag(Load("model: {type: cnn, conv: [3]}\n"), "model.conv[0]", "conv layer mapping"));
}

TEST(SpecLoad, EvalEvery) {
  auto a = Load("training: {eval_every: 500}\n");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a.spec->training.eval_every, "500");
  auto b = Load("training: {eval_every: \"0250\"}\n");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b.spec->training.eval_every, "250");
  EXPECT_TRUE(HasDiag(Load("training: {eval_every: 0}\n"), "training.eval_every", "out of range"));
  EXPECT_TRUE(HasDiag(Load("training: {eval_every: -3}\n"), "training.eval_every", "out of range"));
  EXPECT_TRUE(HasDiag(Load("training: {eval_every: epochs}\n"), "training.eval_every", "\"epoch\""));
}

TEST(SpecLoad, SlurmTimeFormats) {
  struct Case {
    const char* text;
    int64_t seconds;  // -1 = invalid
  } cases[] = {
      {"30", 1800},           {"90", 5400},           {"05:30", 330},       {"01:02:03", 3723},
      {"2-00", 172800},       {"1-12:30", 131400},    {"1-00:00:01", 86401}, {"0-01", 3600},
      {"00:60", -1},          {"1:60:00", -1},        {"1-24", -1},         {"1-", -1},
      {"", -1},               {"1:2:3:4", -1},        {"abc", -1},          {"0", -1},
      {"00:00:00", -1},       {"-5", -1},             {"1-2-3", -1},        {"1 h", -1},
      {"9999999999", -1},     {"UNLIMITED", -1},
  };
  for (const auto& c : cases) {
    auto got = SlurmTimeSeconds(c.text);
    if (c.seconds < 0) {
      EXPECT_FALSE(got.has_value()) << c.text;
    } else {
      ASSERT_TRUE(got.has_value()) << c.text;
      EXPECT_EQ(*got, c.seconds) << c.text;
    }
    auto r = Load(std::string("resources: {time: \"") + c.text + "\"}\npreemption: {lead_seconds: 0}\n");
    EXPECT_EQ(r.ok(), c.seconds > 0) << c.text << "\n" << r.FormatAll();
  }
  // Unquoted MM and HH:MM:SS work too (YAML reads them as plain text).
  auto r = Load("resources: {time: 01:00:00}\n");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  EXPECT_EQ(r.spec->resources.time, "01:00:00");
}

TEST(SpecLoad, MemoryUnits) {
  EXPECT_EQ(SlurmMemMiB("4G").value_or(-1), 4096);
  EXPECT_EQ(SlurmMemMiB("512M").value_or(-1), 512);
  EXPECT_EQ(SlurmMemMiB("512").value_or(-1), 512);
  EXPECT_EQ(SlurmMemMiB("1T").value_or(-1), 1024 * 1024);
  EXPECT_EQ(SlurmMemMiB("1536K").value_or(-1), 2);  // rounded up
  for (const char* bad : {"0", "0G", "4GB", "4 G", "-1G", "G", "", "4.5G", "99999999999999999999T", "4g"}) {
    EXPECT_FALSE(SlurmMemMiB(bad).has_value()) << bad;
  }
  auto r = Load("resources: {mem: 4g}\n");
  auto d = OnlyDiag(r);
  EXPECT_EQ(d.key_path, "resources.mem");
  EXPECT_NE(d.message.find("did you mean \"4G\"?"), std::string::npos) << d.message;
}

TEST(SpecLoad, NamesAreSafe) {
  const std::string longest(64, 'x');
  for (const std::string ok : {"a", "fmnist-mlp", "run_1.2", "A.b-c_d", longest.c_str()}) {
    EXPECT_TRUE(Load("name: \"" + ok + "\"\n").ok()) << ok;
  }
  for (const char* bad : {"", ".hidden", "-flag", "a b", "a/b", "a;rm -rf", "$(x)", "naïve", "a\\tb"}) {
    auto r = Load(std::string("name: \"") + bad + "\"\n");
    EXPECT_TRUE(HasDiag(r, "name", "must be 1-64 characters")) << bad << "\n" << r.FormatAll();
  }
  EXPECT_TRUE(HasDiag(Load("name: " + std::string(65, 'x') + "\n"), "name", "1-64"));
  // Sweep point names (<name>-<index>) must stay within 64 characters.
  auto r = Load("name: " + std::string(63, 'x') + "\nsweep: {optimizer.lr: [0.1, 0.2]}\n");
  EXPECT_TRUE(HasDiag(r, "name", "longer than 64")) << r.FormatAll();
}

TEST(SpecLoad, GlobalBatchDivisibleByWorldSize) {
  auto r = Load("resources: {nodes: 2, tasks_per_node: 3}\ntraining: {global_batch: 100}\n");
  auto d = OnlyDiag(r);
  EXPECT_EQ(d.key_path, "training.global_batch");
  EXPECT_EQ(d.line, 2);
  EXPECT_NE(d.message.find("world size 6 (nodes 2 x tasks_per_node 3)"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("e.g. 96 or 102"), std::string::npos) << d.message;
  // Default global_batch (256) with 3 ranks: reported at the key the user wrote.
  auto r2 = Load("resources: {tasks_per_node: 3}\n");
  auto d2 = OnlyDiag(r2);
  EXPECT_EQ(d2.key_path, "resources.tasks_per_node");
  EXPECT_TRUE(Load("resources: {nodes: 2, tasks_per_node: 4}\ntraining: {global_batch: 512}\n").ok());
}

TEST(SpecLoad, GpusNeedACudaBuild) {
  auto r = Load("resources: {gpus_per_node: 4}\n");
  auto d = OnlyDiag(r);
  EXPECT_EQ(d.key_path, "resources.gpus_per_node");
  EXPECT_NE(d.message.find("-DHPCAI_WITH_CUDA=ON"), std::string::npos) << d.message;
  EXPECT_TRUE(Load("resources: {gpus_per_node: 4}\n", {}, nullptr, /*cuda=*/true).ok());
  EXPECT_TRUE(HasDiag(Load("training: {precision: tf32}\n", {}, nullptr, true), "training.precision", "only on GPUs"));
}

TEST(SpecLoad, OtherCrossFieldChecks) {
  EXPECT_TRUE(HasDiag(Load("optimizer: {type: adam, nesterov: true}\n"), "optimizer.nesterov", "sgd"));
  EXPECT_TRUE(HasDiag(Load("optimizer: {momentum: 0, nesterov: true}\n"), "optimizer.nesterov", "momentum > 0"));
  EXPECT_TRUE(HasDiag(Load("optimizer: {lr: 0.01}\nschedule: {min_lr: 0.1}\n"), "schedule.min_lr", "above optimizer.lr"));
  EXPECT_TRUE(HasDiag(Load("resources: {time: \"02:00\"}\n"), "resources.time", "lead_seconds 120 must be less"));
  EXPECT_TRUE(HasDiag(Load("backend: local\nlauncher: srun\n"), "launcher", "set launcher: mpirun"));
  EXPECT_TRUE(Load("backend: local\nlauncher: mpirun\n").ok());
}

TEST(SpecLoad, WrongTypesAndRanges) {
  struct Case {
    const char* yaml;
    const char* key;
    const char* needle;
  } cases[] = {
      {"resources: {nodes: two}\n", "resources.nodes", "expected an integer 1..100000, got \"two\""},
      {"resources: {nodes: \"2\"}\n", "resources.nodes", "remove the quotes"},
      {"resources: {nodes: 2.5}\n", "resources.nodes", "not a whole number"},
      {"resources: {nodes: 0}\n", "resources.nodes", "out of range"},
      {"resources: {nodes: -1}\n", "resources.nodes", "out of range"},
      {"resources: {nodes: 18446744073709551616}\n", "resources.nodes", "out of range"},
      {"resources: {nodes: [1]}\n", "resources.nodes", "got a list"},
      {"resources: {nodes: null}\n", "resources.nodes", "got null"},
      {"resources: {exclusive: yes}\n", "resources.exclusive", "expected true or false"},
      {"resources: {exclusive: 1}\n", "resources.exclusive", "expected true or false"},
      {"resources: 3\n", "resources", "expected a mapping of resources keys"},
      {"optimizer: {lr: 1e400}\n", "optimizer.lr", "out of range for a 64-bit float"},
      {"optimizer: {lr: -1e400}\n", "optimizer.lr", "out of range for a 64-bit float"},
      {"optimizer: {lr: .nan}\n", "optimizer.lr", "must be a finite number"},
      {"optimizer: {lr: .inf}\n", "optimizer.lr", "must be a finite number"},
      {"optimizer: {lr: -.Inf}\n", "optimizer.lr", "must be a finite number"},
      {"optimizer: {lr: nan}\n", "optimizer.lr", "must be a finite number"},
      {"optimizer: {lr: 0}\n", "optimizer.lr", "expected a number > 0"},
      {"optimizer: {lr: -0.1}\n", "optimizer.lr", "out of range"},
      {"optimizer: {lr: 0x10}\n", "optimizer.lr", "expected a number > 0, got \"0x10\""},
      {"optimizer: {momentum: 1}\n", "optimizer.momentum", "in [0, 1)"},
      {"optimizer: {type: sdg}\n", "optimizer.type", "did you mean `sgd`?"},
      {"optimizer: {grad_clip: 0}\n", "optimizer.grad_clip", "out of range"},
      {"training: {seed: -1}\n", "training.seed", "0..18446744073709551615"},
      {"training: {seed: 18446744073709551616}\n", "training.seed", "out of range"},
      {"training: {seed: 1e3}\n", "training.seed", "0..18446744073709551615"},
      {"training: {global_batch: 9223372036854775808}\n", "training.global_batch", "out of range"},
      {"training: {max_steps: 0}\n", "training.max_steps", "out of range"},
      {"model: {hidden: 256}\n", "model.hidden", "expected a list of integers"},
      {"model: {hidden: [256, 0]}\n", "model.hidden[1]", "out of range"},
      {"model: {dropout: 1.0}\n", "model.dropout", "in [0, 1)"},
      {"model: {activation: RELU}\n", "model.activation", "did you mean `relu`?"},
      {"environment: {env: {1BAD: x}}\n", "environment.env.1BAD", "[A-Za-z_][A-Za-z0-9_]*"},
      {"environment: {env: {A: null}}\n", "environment.env.A", "write \"\" for an empty value"},
      {"environment: {env: [A]}\n", "environment.env", "expected a mapping of NAME: value"},
      {"environment: {modules: [\"a b\"]}\n", "environment.modules[0]", "module name without spaces"},
      {"environment: {setup: \"echo hi\"}\n", "environment.setup", "expected a list of strings"},
      {"resources: {partition: \"gpu;rm\"}\n", "resources.partition", "Slurm name"},
      {"resources: {constraint: \"a\\nb\"}\n", "resources.constraint", "one line"},
      {"data: {x: \"\"}\n", "data.x", "must not be empty"},
      {"data: {train: null}\n", "data.train", "expected a string, got null"},
      {"data: {val: \"\"}\n", "data.val", "use null for none"},
      {"name: \"a\\0b\"\n", "name", "NUL"},
      {"preemption: {signal: KILL}\n", "preemption.signal", "USR1 | USR2 | TERM | INT | HUP"},
      {"preemption: {signal: usr1}\n", "preemption.signal", "did you mean `USR1`?"},
      {"checkpoint: {every_minutes: -1}\n", "checkpoint.every_minutes", "out of range"},
  };
  for (const auto& c : cases) {
    auto r = Load(c.yaml);
    EXPECT_TRUE(HasDiag(r, c.key, c.needle)) << c.yaml << "--- got:\n" << r.FormatAll();
  }
}

TEST(SpecLoad, AllProblemsInOnePassInFileOrder) {
  auto r = Load(
      "name: ok\n"
      "resources:\n"
      "  nodse: 2\n"
      "  time: soon\n"
      "model: {type: mlpp}\n"
      "optimizer: {lr: -1}\n");
  ASSERT_EQ(r.diagnostics.size(), 4u) << r.FormatAll();
  EXPECT_EQ(r.diagnostics[0].key_path, "resources.nodse");
  EXPECT_EQ(r.diagnostics[1].key_path, "resources.time");
  EXPECT_EQ(r.diagnostics[2].key_path, "model.type");
  EXPECT_EQ(r.diagnostics[3].key_path, "optimizer.lr");
  for (size_t i = 1; i < r.diagnostics.size(); ++i) {
    EXPECT_LT(r.diagnostics[i - 1].line, r.diagnostics[i].line);
  }
}

TEST(SpecLoad, UnknownKeysGetSuggestions) {
  EXPECT_TRUE(HasDiag(Load("resources: {nodse: 2}\n"), "resources.nodse", "did you mean `nodes`?"));
  EXPECT_TRUE(HasDiag(Load("optimiser: {lr: 0.1}\n"), "optimiser", "did you mean `optimizer`?"));
  EXPECT_TRUE(HasDiag(Load("lr: 0.1\n"), "lr", "did you mean `optimizer.lr`?"));
  EXPECT_TRUE(HasDiag(Load("training: {lr: 0.1}\n"), "training.lr", "did you mean `optimizer.lr`?"));
  EXPECT_TRUE(HasDiag(Load("training: {global_bacth: 8}\n"), "training.global_bacth", "did you mean `global_batch`?"));
  auto r = Load("zzzzzz: 1\n");
  EXPECT_TRUE(HasDiag(r, "zzzzzz", "valid keys at the top level: name, backend")) << r.FormatAll();
}

TEST(SpecLoad, Overrides) {
  auto r = Load("name: x\nmodel: {hidden: [8]}\n",
                {"model.hidden=[512,256]", "optimizer.lr=0.1", "resources.partition=gpu", "data.val=null",
                 "training.max_steps=100", "name=y"});
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  EXPECT_EQ(r.spec->model.hidden, (std::vector<int>{512, 256}));
  EXPECT_DOUBLE_EQ(r.spec->optimizer.lr, 0.1);
  EXPECT_EQ(r.spec->resources.partition.value_or(""), "gpu");
  EXPECT_FALSE(r.spec->data.val.has_value());
  EXPECT_EQ(r.spec->training.max_steps.value_or(0), 100);
  EXPECT_EQ(r.spec->name, "y");
  // Later overrides win; a section left empty in the file is fine.
  auto r2 = Load("resources:\n", {"resources.nodes=2", "resources.nodes=4", "training.global_batch=64"});
  ASSERT_TRUE(r2.ok()) << r2.FormatAll();
  EXPECT_EQ(r2.spec->resources.nodes, 4);
  // Sweeps can be set or cleared.
  auto r3 = Load("sweep: {optimizer.lr: [0.1, 0.2]}\n", {"sweep={}"});
  ASSERT_TRUE(r3.ok()) << r3.FormatAll();
  EXPECT_TRUE(r3.spec->sweep.empty());
  auto r4 = Load("name: x\n", {"sweep.optimizer.lr=[0.1, 0.2]", "sweep.max_parallel=1"});
  ASSERT_TRUE(r4.ok()) << r4.FormatAll();
  ASSERT_EQ(r4.spec->sweep.axes.size(), 1u);
  EXPECT_EQ(r4.spec->sweep.parallelism, 1);
}

TEST(SpecLoad, OverrideErrorsPointIntoTheOverride) {
  auto r = Load("name: x\n", {"optimizer.lr=0.1", "model.hiden=[1]"});
  auto d = OnlyDiag(r);
  EXPECT_EQ(d.file, "--set #2");
  EXPECT_EQ(d.key_path, "model.hiden");
  EXPECT_EQ(d.line, 1);
  EXPECT_EQ(d.column, 1);
  EXPECT_NE(d.message.find("did you mean `model.hidden`?"), std::string::npos);
  auto r2 = Load("name: x\n", {"training.epochs=ten"});
  auto d2 = OnlyDiag(r2);
  EXPECT_EQ(d2.column, 17);
  EXPECT_EQ(d2.source_line, "training.epochs=ten");
  EXPECT_TRUE(HasDiag(Load("name: x\n", {"nodes"}), "", "expected --set key.path=value"));
  EXPECT_TRUE(HasDiag(Load("name: x\n", {"resources=2"}), "resources", "--set takes a single key"));
  auto r3 = Load("name: x\n", {"model.hidden=[1, 2"});
  ASSERT_FALSE(r3.ok());
  EXPECT_EQ(r3.diagnostics[0].file, "--set #1");
  EXPECT_EQ(r3.diagnostics[0].column, 14);
}

TEST(SpecLoad, EnvironmentInterpolation) {
  std::map<std::string, std::string> env = {{"USER_NAME", "alice"}, {"EMPTY", ""}, {"N", "4"},
                                            {"HOME", "/home/alice"}};
  auto r = Load(
      "name: run-${USER_NAME}\n"
      "resources: {tasks_per_node: \"${N}\", partition: \"${PART:-debug}\"}\n"
      "environment:\n"
      "  env: {A: \"${EMPTY:-fallback}\", B: \"${EMPTY}\", C: \"cost $$5 and $${HOME} and $HOME\"}\n"
      "training: {global_batch: 64}\n",
      {}, &env);
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  EXPECT_EQ(r.spec->name, "run-alice");
  EXPECT_EQ(r.spec->resources.tasks_per_node, 4);
  EXPECT_EQ(r.spec->resources.partition.value_or(""), "debug");
  ASSERT_EQ(r.spec->environment.env.size(), 3u);
  EXPECT_EQ(r.spec->environment.env[0].second, "fallback");
  EXPECT_EQ(r.spec->environment.env[1].second, "");
  EXPECT_EQ(r.spec->environment.env[2].second, "cost $5 and ${HOME} and $HOME");
  // Keys are never interpolated; overrides are.
  auto r2 = Load("name: x\n", {"name=${USER_NAME}-2"}, &env);
  ASSERT_TRUE(r2.ok()) << r2.FormatAll();
  EXPECT_EQ(r2.spec->name, "alice-2");
}

TEST(SpecLoad, UndefinedVariableIsAnErrorWithItsLocation) {
  std::map<std::string, std::string> env;
  auto r = Load("name: x\ndata:\n  train: /d/${DATA_ROOT}/train\n", {}, &env);
  auto d = OnlyDiag(r);
  EXPECT_EQ(d.key_path, "data.train");
  EXPECT_EQ(d.line, 3);
  EXPECT_EQ(d.column, 10);
  EXPECT_NE(d.message.find("DATA_ROOT is not set"), std::string::npos) << d.message;
  EXPECT_NE(d.message.find("${DATA_ROOT:-value}"), std::string::npos) << d.message;
  EXPECT_TRUE(HasDiag(Load("name: \"${bad name}\"\n", {}, &env), "name", "invalid variable reference"));
  EXPECT_TRUE(HasDiag(Load("name: \"${OPEN\"\n", {}, &env), "name", "unterminated ${"));
  // Other errors are still reported in the same pass.
  auto r2 = Load("name: ${NOPE}\nresources: {nodse: 1}\n", {}, &env);
  EXPECT_EQ(r2.diagnostics.size(), 2u) << r2.FormatAll();
}

TEST(SpecLoad, InterpolationCannotBlowUp) {
  std::map<std::string, std::string> env = {{"BIG", std::string(60000, 'x')}};
  std::string text = "environment:\n  setup:\n";
  for (int i = 0; i < 100; ++i) text += "    - \"${BIG}\"\n";
  auto r = Load(text, {}, &env);
  EXPECT_TRUE(HasDiag(r, "environment.setup[69]", "beyond 4 MiB")) << r.FormatAll().substr(0, 500);
  auto r2 = Load("name: \"${BIG}${BIG}\"\n", {}, &env);
  EXPECT_TRUE(HasDiag(r2, "name", "longer than 65536 bytes"));
}

TEST(SpecLoad, SweepDecodingAndChecks) {
  auto r = Load("sweep:\n  optimizer.lr: [0.1, 0.050]\n  model.hidden: [[256,128],[512, 256]]\n  max_parallel: 3\n");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  const auto& sw = r.spec->sweep;
  ASSERT_EQ(sw.axes.size(), 2u);
  EXPECT_EQ(sw.axes[0].key, "optimizer.lr");
  EXPECT_EQ(sw.axes[0].values, (std::vector<std::string>{"0.1", "0.05"}));  // canonical text
  EXPECT_EQ(sw.axes[1].values, (std::vector<std::string>{"[256, 128]", "[512, 256]"}));
  EXPECT_EQ(sw.parallelism, 3);
  EXPECT_EQ(SweepPoints(sw), 4);

  EXPECT_TRUE(HasDiag(Load("sweep: {optimizer.lrr: [0.1]}\n"), "sweep.optimizer.lrr", "did you mean `optimizer.lr`?"));
  EXPECT_TRUE(HasDiag(Load("sweep: {lr: [0.1]}\n"), "sweep.lr", "did you mean `optimizer.lr`?"));
  EXPECT_TRUE(HasDiag(Load("sweep: {optimizer.lr: 0.1}\n"), "sweep.optimizer.lr", "non-empty list"));
  EXPECT_TRUE(HasDiag(Load("sweep: {optimizer.lr: []}\n"), "sweep.optimizer.lr", "non-empty list"));
  EXPECT_TRUE(HasDiag(Load("sweep: {optimizer.lr: [0.1, fast]}\n"), "sweep.optimizer.lr[1]", "expected a number"));
  EXPECT_TRUE(HasDiag(Load("sweep: {optimizer.lr: [0.1, 0.10]}\n"), "sweep.optimizer.lr[1]", "appears twice"));
  EXPECT_TRUE(HasDiag(Load("sweep: {model.hidden: [256]}\n"), "sweep.model.hidden[0]", "expected a list of integers"));
  EXPECT_TRUE(HasDiag(Load("sweep: {name: [a, b]}\n"), "sweep.name", "cannot be swept"));
  EXPECT_TRUE(HasDiag(Load("sweep: {max_parallel: 2}\n"), "sweep.max_parallel", "without any sweep axis"));
  EXPECT_TRUE(HasDiag(Load("sweep: {max_parallel: -1, optimizer.lr: [0.1]}\n"), "sweep.max_parallel", "0..100000"));
  EXPECT_TRUE(HasDiag(Load("sweep: [0.1]\n"), "sweep", "expected a mapping"));
  std::string big = "sweep:\n  training.seed: [";
  for (int i = 0; i < 40; ++i) {
    if (i) big += ",";
    big += std::to_string(i);
  }
  big += "]\n  optimizer.lr: [";
  for (int i = 1; i <= 30; ++i) {
    if (i > 1) big += ",";
    big += std::to_string(i) + ".0";
  }
  big += "]\n";
  EXPECT_TRUE(HasDiag(Load(big), "sweep", "more than 1000 points"));
}

TEST(SpecLoad, EverySweepPointIsValidated) {
  // Point 1 breaks divisibility; only that point is named.
  auto r = Load("resources: {tasks_per_node: 2}\nsweep: {training.global_batch: [64, 63, 128]}\n");
  auto d = OnlyDiag(r);
  EXPECT_EQ(d.key_path, "training.global_batch");
  EXPECT_EQ(d.line, 2);
  EXPECT_EQ(d.column, 37);  // the offending sweep value
  EXPECT_NE(d.message.find("in sweep point 1 (training.global_batch=63)"), std::string::npos) << d.message;
  // A problem every point shares is reported once, plainly.
  auto r2 = Load("resources: {tasks_per_node: 3}\nsweep: {optimizer.lr: [0.1, 0.2]}\n");
  auto d2 = OnlyDiag(r2);
  EXPECT_EQ(d2.message.find("in sweep point"), std::string::npos) << d2.message;
  // A base that is only invalid where the sweep overrides it is fine.
  EXPECT_TRUE(Load("model: {type: mlp, hidden: []}\nsweep: {model.hidden: [[8], [16]]}\n").ok());
  // Sweeping a path resolves it like the base value.
  auto r3 = Load("sweep: {data.train: [a, /b]}\n");
  ASSERT_TRUE(r3.ok()) << r3.FormatAll();
  EXPECT_EQ(r3.spec->sweep.axes[0].values[0], Cwd() + "/a");
}

TEST(SpecLoad, ExpandSweepNamesAndOrdersPoints) {
  auto r = Load("name: exp\nsweep: {optimizer.lr: [0.1, 0.05], model.hidden: [[256,128],[512,256],[64]]}\n");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  auto points = ExpandSweep(*r.spec);
  ASSERT_TRUE(points.ok()) << points.status().message();
  ASSERT_EQ(points->size(), 6u);
  for (size_t i = 0; i < points->size(); ++i) {
    const auto& p = (*points)[i];
    EXPECT_EQ(p.name, "exp-" + std::to_string(i));
    EXPECT_TRUE(p.sweep.empty());
    EXPECT_DOUBLE_EQ(p.optimizer.lr, i < 3 ? 0.1 : 0.05);  // first axis slowest
  }
  EXPECT_EQ((*points)[0].model.hidden, (std::vector<int>{256, 128}));
  EXPECT_EQ((*points)[1].model.hidden, (std::vector<int>{512, 256}));
  EXPECT_EQ((*points)[5].model.hidden, (std::vector<int>{64}));
  // Distinct points, distinct hashes; the base spec's hash differs from all.
  std::set<std::string> hashes;
  for (const auto& p : *points) hashes.insert(SpecHash(p));
  hashes.insert(SpecHash(*r.spec));
  EXPECT_EQ(hashes.size(), 7u);
  // No sweep: the spec itself.
  auto plain = Load("name: solo\n");
  auto one = ExpandSweep(*plain.spec);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].name, "solo");
}

TEST(SpecLoad, ExpandSweepRejectsBrokenHandMadeSweeps) {
  ResolvedSpec s;
  s.sweep.axes.push_back(SweepAxis{"optimizer.lr", {"0.1", "-1"}});
  auto r = ExpandSweep(s);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kSpecError);
  ResolvedSpec t;
  t.sweep.axes.push_back(SweepAxis{"no.such", {"1"}});
  EXPECT_FALSE(ExpandSweep(t).ok());
}

TEST(SpecLoad, LoadSpecFileErrors) {
  SpecLoadOptions o;
  auto r = LoadSpecFile("/nonexistent/spec.yaml", o);
  auto d = OnlyDiag(r);
  EXPECT_EQ(d.file, "/nonexistent/spec.yaml");
  EXPECT_NE(d.message.find("no such file"), std::string::npos);
  auto dir = LoadSpecFile("/tmp", o);
  EXPECT_NE(OnlyDiag(dir).message.find("is a directory"), std::string::npos);
}

TEST(SpecLoad, LoadSpecFileRecordsItsPath) {
  std::string dir = std::filesystem::temp_directory_path() / ("hpcai-spec-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = dir + "/exp.yaml";
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs("name: from-file\n", f);
  std::fclose(f);
  SpecLoadOptions o;
  std::map<std::string, std::string> env;
  o.env = &env;
  auto r = LoadSpecFile(path, o);
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  EXPECT_EQ(r.spec->source_path, path);
  EXPECT_EQ(r.spec->name, "from-file");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace hpcai
