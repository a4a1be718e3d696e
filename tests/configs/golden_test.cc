// Golden tests: the exact text users see for spec errors (file:line:col,
// key path, message, echoed line, caret, suggestion).  A change here is a
// change to the product's main user interface: update deliberately.
#include <gtest/gtest.h>

#include "hpcai/configs/spec.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

std::string Errors(const std::string& text, std::vector<std::string> overrides = {}) {
  auto r = testing_util::Load(text, std::move(overrides));
  EXPECT_FALSE(r.ok());
  return r.FormatAll();
}

TEST(Golden, UnknownKeyWithSuggestion) {
  EXPECT_EQ(Errors("name: demo\nresources:\n  nodse: 2\n"),
            "spec.yaml:3:3: resources.nodse: unknown key; did you mean `nodes`?\n"
            "    nodse: 2\n"
            "    ^\n");
}

TEST(Golden, KeyInTheWrongSection) {
  EXPECT_EQ(Errors("training:\n  lr: 0.1\n"),
            "spec.yaml:2:3: training.lr: unknown key; did you mean `optimizer.lr`?\n"
            "    lr: 0.1\n"
            "    ^\n");
}

TEST(Golden, UnknownKeyWithoutSuggestionListsValidKeys) {
  EXPECT_EQ(Errors("checkpoint: {zzz: 1}\n"),
            "spec.yaml:1:14: checkpoint.zzz: unknown key (valid keys in checkpoint: every_steps, "
            "every_minutes, keep_last, async)\n"
            "  checkpoint: {zzz: 1}\n"
            "               ^\n");
}

TEST(Golden, ListItemOutOfRangeInFlowStyle) {
  EXPECT_EQ(Errors("model: {type: mlp, hidden: [256, -1]}\n"),
            "spec.yaml:1:34: model.hidden[1]: expected an integer 1..1048576, got -1 (out of range)\n"
            "  model: {type: mlp, hidden: [256, -1]}\n"
            "                                   ^\n");
}

TEST(Golden, StringWhereIntegerExpected) {
  EXPECT_EQ(Errors("training:\n  epochs: ten\n"),
            "spec.yaml:2:11: training.epochs: expected an integer 1..1000000, got \"ten\"\n"
            "    epochs: ten\n"
            "            ^\n");
}

TEST(Golden, TabIndentation) {
  EXPECT_EQ(Errors("name: demo\nresources:\n\tnodes: 2\n"),
            "spec.yaml:3:1: tab character in indentation; YAML indents with spaces only\n"
            "  \tnodes: 2\n"
            "  ^\n");
}

TEST(Golden, DuplicateKey) {
  EXPECT_EQ(Errors("name: a\nbackend: local\nname: b\n"),
            "spec.yaml:3:1: duplicate key \"name\" (first defined at line 1); each key may appear once\n"
            "  name: b\n"
            "  ^\n");
}

TEST(Golden, UnclosedBracket) {
  EXPECT_EQ(Errors("model:\n  hidden: [256, 128\n"),
            "spec.yaml:2:11: YAML syntax error: this [ is never closed (expected ] before the end of the file)\n"
            "    hidden: [256, 128\n"
            "            ^\n");
}

TEST(Golden, UndefinedVariable) {
  EXPECT_EQ(Errors("data:\n  train: ${DATA}/train\n"),
            "spec.yaml:2:10: data.train: environment variable DATA is not set (referenced as ${DATA}); set "
            "it, or give a default: ${DATA:-value}\n"
            "    train: ${DATA}/train\n"
            "           ^\n");
}

TEST(Golden, OverrideUnknownKey) {
  EXPECT_EQ(Errors("name: demo\n", {"optimizer.lr=0.1", "model.hiden=[512,256]"}),
            "--set #2:1:1: model.hiden: unknown key; did you mean `model.hidden`?\n"
            "  model.hiden=[512,256]\n"
            "  ^\n");
  EXPECT_EQ(Errors("name: demo\n", {"optimizer.learning_rate=0.1"}),
            "--set #1:1:1: optimizer.learning_rate: unknown key; did you mean `optimizer.lr`?\n"
            "  optimizer.learning_rate=0.1\n"
            "  ^\n");
}

TEST(Golden, OverrideBadValue) {
  EXPECT_EQ(Errors("name: demo\n", {"resources.nodes=-2"}),
            "--set #1:1:17: resources.nodes: expected an integer 1..100000, got -2 (out of range)\n"
            "  resources.nodes=-2\n"
            "                  ^\n");
}

TEST(Golden, GpusWithoutCudaBuild) {
  EXPECT_EQ(Errors("resources:\n  gpus_per_node: 2\n"),
            "spec.yaml:2:18: resources.gpus_per_node: gpus_per_node is 2, but this hpcai build has no CUDA "
            "backend; rebuild with cmake -DHPCAI_WITH_CUDA=ON (needs nvcc and NCCL), or set gpus_per_node: 0 "
            "to train on CPUs\n"
            "    gpus_per_node: 2\n"
            "                   ^\n");
}

TEST(Golden, BatchNotDivisible) {
  EXPECT_EQ(Errors("resources: {nodes: 2, tasks_per_node: 3}\ntraining:\n  global_batch: 256\n"),
            "spec.yaml:3:17: training.global_batch: global_batch 256 is not divisible by the world size 6 "
            "(nodes 2 x tasks_per_node 3); use a multiple of 6, e.g. 252 or 258\n"
            "    global_batch: 256\n"
            "                  ^\n");
}

TEST(Golden, BadTimeFormat) {
  EXPECT_EQ(Errors("resources:\n  time: \"1:75\"\n"),
            "spec.yaml:2:9: resources.time: expected a Slurm time limit (MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM "
            "or D-HH:MM:SS, e.g. \"00:30:00\" or \"1-12:00:00\"; minutes/seconds below 60), got the string "
            "\"1:75\"\n"
            "    time: \"1:75\"\n"
            "          ^\n");
}

TEST(Golden, EnumWithSuggestion) {
  EXPECT_EQ(Errors("optimizer: {type: adamm}\n"),
            "spec.yaml:1:19: optimizer.type: expected one of sgd | adam | adamw, got \"adamm\"; did you mean "
            "`adam`?\n"
            "  optimizer: {type: adamm}\n"
            "                    ^\n");
}

TEST(Golden, EmptyFileHasNoLocation) {
  EXPECT_EQ(Errors(""),
            "spec.yaml: the spec is empty; it needs a mapping of keys such as name, resources, data, model "
            "(see `hpcai init`)\n");
}

TEST(Golden, CaretCountsCharactersNotBytes) {
  EXPECT_EQ(Errors("name: \"café\"   # é\noptimizer: {lr: \"0.1\"}\n"),
            "spec.yaml:1:7: name: must be 1-64 characters from A-Z a-z 0-9 . _ - and not start with '.' or "
            "'-' (it names run directories and Slurm jobs), got \"café\"\n"
            "  name: \"café\"   # é\n"
            "        ^\n"
            "spec.yaml:2:17: optimizer.lr: expected a number > 0, got the string \"0.1\" (remove the quotes)\n"
            "  optimizer: {lr: \"0.1\"}\n"
            "                  ^\n");
  // A multi-byte character before the error: the caret still sits under it.
  EXPECT_EQ(Errors("environment: {env: {É: x}}\n"),
            "spec.yaml:1:21: environment.env.É: environment variable names are [A-Za-z_][A-Za-z0-9_]*, got "
            "\"É\"\n"
            "  environment: {env: {É: x}}\n"
            "                      ^\n");
}

TEST(Golden, SweepPointError) {
  EXPECT_EQ(Errors("resources: {tasks_per_node: 2}\nsweep:\n  training.global_batch: [64, 63]\n"),
            "spec.yaml:3:31: training.global_batch: in sweep point 1 (training.global_batch=63): global_batch 63 "
            "is not divisible by the world size 2 (nodes 1 x tasks_per_node 2); use a multiple of 2, e.g. 62 or "
            "64\n"
            "    training.global_batch: [64, 63]\n"
            "                                ^\n");
}

TEST(Golden, ControlCharactersAreNotEchoedRaw) {
  // An ESC byte must never reach the terminal from an echoed line.
  std::string out = Errors("name: x\x1b[31m\n");
  EXPECT_EQ(out,
            "spec.yaml:1:8: control character 0x1B is not allowed in a spec (write it as an escape, e.g. "
            "\"\\t\", inside a double-quoted string)\n"
            "  name: x?[31m\n"
            "         ^\n");
}

TEST(Golden, LongLinesAreWindowed) {
  std::string line = "name: \"" + std::string(300, 'a') + "\"";
  std::string out = Errors(line + "\n");
  // The echo is cut to a window with "..." and stays short.
  auto nl1 = out.find('\n');
  auto nl2 = out.find('\n', nl1 + 1);
  std::string echo = out.substr(nl1 + 1, nl2 - nl1 - 1);
  EXPECT_LT(echo.size(), 120u);
  EXPECT_EQ(echo.substr(echo.size() - 3), "...");
  EXPECT_EQ(out.substr(0, 14), "spec.yaml:1:7:");
}

}  // namespace
}  // namespace hpcai
