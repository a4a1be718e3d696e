// Hostile and broken input: every case must produce a clear diagnostic (never
// a crash, hang, abort or partial spec), with bounded work: inputs are capped
// at 256 KiB before parsing, trees at 20,000 values, nesting at 32 levels before yaml-cpp recurses,
// aliases are rejected (never expanded).  Timings and peak memory per file
// are measured by scripts/bench-spec-hostile.sh, not asserted here.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "hpcai/configs/spec.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

using testing_util::HasDiag;
using testing_util::Load;
using testing_util::SourceDir;

SpecLoadResult LoadFixture(const std::string& name) {
  static const std::map<std::string, std::string> kEnv = {{"HOME", "/home/tester"}};
  SpecLoadOptions o;
  o.env = &kEnv;
  o.check_data = false;
  return LoadSpecFile(SourceDir() + "/tests/configs/hostile/" + name, o);
}

// Every diagnostic renders, and none echoes a raw control character.
void ExpectCleanDiagnostics(const SpecLoadResult& r) {
  ASSERT_FALSE(r.ok());
  ASSERT_FALSE(r.spec.has_value());
  ASSERT_FALSE(r.diagnostics.empty());
  std::string all = r.FormatAll();
  for (unsigned char c : all) {
    EXPECT_TRUE(c >= 0x20 || c == '\n' || c == '\t') << "raw control byte " << int(c) << " in:\n" << all;
  }
}

struct Fixture {
  const char* file;
  int line;             // of the first diagnostic (0 = no location)
  const char* key;      // key path of the first diagnostic
  const char* needle;   // in its message
};

class HostileFixture : public ::testing::TestWithParam<Fixture> {};

TEST_P(HostileFixture, GivesAClearError) {
  const Fixture& f = GetParam();
  auto r = LoadFixture(f.file);
  ExpectCleanDiagnostics(r);
  const SpecDiagnostic& d = r.diagnostics.front();
  EXPECT_EQ(d.line, f.line) << r.FormatAll();
  EXPECT_EQ(d.key_path, f.key) << r.FormatAll();
  EXPECT_NE(d.message.find(f.needle), std::string::npos) << r.FormatAll();
}

INSTANTIATE_TEST_SUITE_P(
    Files, HostileFixture,
    ::testing::Values(
        Fixture{"tabs.yaml", 3, "", "tab character in indentation"},
        Fixture{"unclosed-bracket.yaml", 3, "", "this [ is never closed"},
        Fixture{"unclosed-brace.yaml", 2, "", "this { is never closed"},
        Fixture{"unclosed-quote.yaml", 1, "", "this \" is never closed"},
        Fixture{"duplicate-keys.yaml", 4, "", "duplicate key \"nodes\" (first defined at line 3)"},
        Fixture{"wrong-types.yaml", 1, "name", "expected a string, got a list"},
        Fixture{"negative-numbers.yaml", 1, "resources.nodes", "out of range"},
        Fixture{"enormous-numbers.yaml", 1, "optimizer.lr", "out of range for a 64-bit float"},
        Fixture{"nan-inf.yaml", 1, "optimizer.lr", "must be a finite number"},
        Fixture{"empty.yaml", 0, "", "the spec is empty"},
        Fixture{"comments-only.yaml", 0, "", "the spec is empty"},
        Fixture{"list-document.yaml", 1, "", "must be a mapping of keys"},
        Fixture{"scalar-document.yaml", 1, "", "must be a mapping of keys"},
        Fixture{"multi-document.yaml", 2, "", "second document starts here"},
        Fixture{"non-utf8.yaml", 1, "", "invalid UTF-8 byte 0xE9"},
        Fixture{"utf16.yaml", 1, "", "invalid UTF-8 byte 0xFF"},
        Fixture{"alias-bomb.yaml", 2, "", "aliases (*name) are not supported"},
        Fixture{"merge-key.yaml", 3, "", "aliases (*name) are not supported"},
        Fixture{"yaml-tags.yaml", 1, "", "YAML tags"},
        Fixture{"null-byte.yaml", 1, "", "control character 0x00"},
        Fixture{"control-chars.yaml", 1, "", "control character 0x1B"},
        Fixture{"shell-metachar-name.yaml", 1, "name", "must be 1-64 characters"},
        Fixture{"shell-metachar-partition.yaml", 1, "resources.partition", "expected a Slurm name"},
        Fixture{"shell-metachar-env-key.yaml", 3, "environment.env.X; rm -rf /", "environment variable names"},
        Fixture{"non-scalar-key.yaml", 1, "", "mapping keys must be plain names"},
        Fixture{"deep-flow-small.yaml", 1, "", "nesting deeper than 32 levels"}),
    [](const ::testing::TestParamInfo<Fixture>& info) {
      std::string n = info.param.file;
      n = n.substr(0, n.find('.'));
      for (char& c : n) {
        if (c == '-') c = '_';
      }
      return n;
    });

TEST(Hostile, AllProblemsOfAFileAreReported) {
  auto r = LoadFixture("wrong-types.yaml");
  EXPECT_TRUE(HasDiag(r, "name", "got a list"));
  EXPECT_TRUE(HasDiag(r, "resources.nodes", "got \"two\""));
  EXPECT_TRUE(HasDiag(r, "resources.exclusive", "expected true or false"));
  EXPECT_TRUE(HasDiag(r, "model.hidden", "expected a list of integers"));
  EXPECT_TRUE(HasDiag(r, "training.epochs", "remove the quotes"));
  auto n = LoadFixture("negative-numbers.yaml");
  for (const char* k : {"resources.nodes", "resources.tasks_per_node", "training.epochs",
                        "training.global_batch", "training.seed", "optimizer.lr"}) {
    EXPECT_TRUE(HasDiag(n, k, "")) << k << "\n" << n.FormatAll();
  }
  auto e = LoadFixture("enormous-numbers.yaml");
  EXPECT_TRUE(HasDiag(e, "training.seed", "out of range"));
  EXPECT_TRUE(HasDiag(e, "training.global_batch", "out of range"));
  EXPECT_TRUE(HasDiag(e, "resources.nodes", "out of range"));
  auto nan = LoadFixture("nan-inf.yaml");
  for (const char* k : {"optimizer.lr", "optimizer.momentum", "optimizer.weight_decay", "model.dropout"}) {
    EXPECT_TRUE(HasDiag(nan, k, "finite")) << k << "\n" << nan.FormatAll();
  }
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("hpcai-hostile-" + std::to_string(::getpid()) + "-" + name))
      .string();
}

TEST(Hostile, FiftyMegabyteFileIsRejectedBeforeReading) {
  const std::string path = TempPath("big.yaml");
  {
    std::ofstream out(path, std::ios::binary);
    std::string chunk(1 << 20, 'a');
    chunk[0] = '#';
    for (int i = 0; i < 50; ++i) out << chunk;
  }
  SpecLoadOptions o;
  auto r = LoadSpecFile(path, o);
  ExpectCleanDiagnostics(r);
  EXPECT_NE(r.diagnostics[0].message.find("52428800 bytes; the limit is 262144 bytes (256 KiB)"), std::string::npos)
      << r.FormatAll();
  std::filesystem::remove(path);
  // The same through LoadSpecText (e.g. stdin).
  auto t = LoadSpecText(std::string(50u << 20, ' '), "big", o);
  EXPECT_NE(t.diagnostics.at(0).message.find("the limit is 262144 bytes"), std::string::npos);
}

TEST(Hostile, EndlessDeviceIsReadOnlyUpToTheLimit) {
  SpecLoadOptions o;
  auto r = LoadSpecFile("/dev/zero", o);
  ExpectCleanDiagnostics(r);
  EXPECT_NE(r.diagnostics[0].message.find("larger than the limit"), std::string::npos) << r.FormatAll();
  auto n = LoadSpecFile("/dev/null", o);
  ExpectCleanDiagnostics(n);
  EXPECT_NE(n.diagnostics[0].message.find("empty"), std::string::npos);
}

TEST(Hostile, TenThousandLevelsOfNesting) {
  // Flow style: [[[[...]]]]
  std::string flow = "model: {hidden: " + std::string(10000, '[') + std::string(10000, ']') + "}\n";
  auto a = Load(flow);
  ExpectCleanDiagnostics(a);
  EXPECT_NE(a.diagnostics[0].message.find("nesting deeper than 32"), std::string::npos);
  // Block sequences on one line: - - - - ... x
  std::string dashes;
  for (int i = 0; i < 10000; ++i) dashes += "- ";
  auto b = Load("a:\n  " + dashes + "x\n");
  ExpectCleanDiagnostics(b);
  EXPECT_NE(b.diagnostics[0].message.find("nesting deeper than 32"), std::string::npos);
  // Block mappings, one more space per level (as deep as fits in 256 KiB).
  std::string block;
  for (int i = 0; i < 700; ++i) block += std::string(static_cast<size_t>(i), ' ') + "k:\n";
  ASSERT_LT(block.size(), 256u << 10);
  auto c = Load(block);
  ExpectCleanDiagnostics(c);
  EXPECT_NE(c.diagnostics[0].message.find("nesting deeper than 32"), std::string::npos);
  // Mixed flow mappings and sequences, and 10,000 levels inside an --set value.
  std::string mixed;
  for (int i = 0; i < 5000; ++i) mixed += "{a: [";
  auto d = Load("name: " + mixed + "\n");
  ExpectCleanDiagnostics(d);
  auto e = Load("name: x\n", {"model.hidden=" + std::string(10000, '[') + std::string(10000, ']')});
  ExpectCleanDiagnostics(e);
  EXPECT_EQ(e.diagnostics[0].file, "--set #1");
}

TEST(Hostile, BillionLaughsInAnOverride) {
  auto r = Load("name: x\n", {"model.hidden=&a [1, *a]"});
  ExpectCleanDiagnostics(r);
  EXPECT_NE(r.diagnostics[0].message.find("aliases"), std::string::npos);
}

TEST(Hostile, ManyValuesAreCapped) {
  std::string list = "environment: {setup: [";
  for (int i = 0; i < 30000; ++i) list += "x,";
  auto l = Load(list + "x]}\n");
  ExpectCleanDiagnostics(l);
  EXPECT_NE(l.diagnostics[0].message.find("more than 20000 YAML values"), std::string::npos) << l.FormatAll();
}

TEST(Hostile, ManyErrorsAreCapped) {
  std::string text;
  for (int i = 0; i < 9000; ++i) {
    text += 'k';
    text += std::to_string(i);
    text += ": 1\n";
  }
  auto r = Load(text);
  ExpectCleanDiagnostics(r);
  EXPECT_EQ(r.diagnostics.size(), 101u);
  EXPECT_NE(r.diagnostics.back().message.find("too many errors"), std::string::npos);
}

TEST(Hostile, HugeSweepIsRefusedWithoutExpanding) {
  std::string text = "sweep:\n";
  for (int axis = 0; axis < 8; ++axis) {
    const char* keys[] = {"training.seed", "optimizer.lr", "optimizer.momentum", "model.dropout",
                          "training.epochs", "data.prefetch", "checkpoint.keep_last", "training.log_every"};
    text += std::string("  ") + keys[axis] + ": [";
    for (int v = 1; v <= 9; ++v) {
      if (v > 1) text += ", ";
      if (axis == 1 || axis == 2 || axis == 3) text += "0.0";
      text += std::to_string(v);
    }
    text += "]\n";
  }
  auto r = Load(text);
  ExpectCleanDiagnostics(r);
  EXPECT_TRUE(HasDiag(r, "sweep", "more than 1000 points")) << r.FormatAll();
}

TEST(Hostile, LongKeysAndValues) {
  auto r = Load(std::string(200000, 'k') + ": 1\n");
  ExpectCleanDiagnostics(r);
  EXPECT_LT(r.FormatAll().size(), 4000u);  // long names are shortened in messages and echoes
  auto v = Load("name: " + std::string(200000, 'v') + "\n");
  ExpectCleanDiagnostics(v);
  EXPECT_LT(v.FormatAll().size(), 4000u);
}

// Runs last in this file (gtest keeps file order): the process's peak RSS
// after all hostile inputs above stays far below the 200 MB budget.
TEST(Hostile, ZzPeakMemoryStaysBounded) {
  struct rusage ru {};
  ASSERT_EQ(getrusage(RUSAGE_SELF, &ru), 0);
  EXPECT_LT(ru.ru_maxrss, 200 * 1024) << "peak RSS " << ru.ru_maxrss << " KiB";
}

}  // namespace
}  // namespace hpcai
