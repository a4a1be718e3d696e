// Randomized mutation test over the parser: thousands of mutated example
// specs (byte flips, YAML-significant insertions, deletions, line shuffles,
// truncation, invalid UTF-8, aliases, deep brackets, ${...}) must each give
// either a valid spec (which then round-trips exactly) or diagnostics that
// render -- never a crash, hang or a result that is both or neither.
// Deterministic: fixed seeds, so a failure reproduces.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "hpcai/base/rng.h"
#include "hpcai/configs/spec.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

using testing_util::SourceDir;

std::string ReadExample(const std::string& name) {
  std::ifstream in(SourceDir() + "/configs/examples/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> Seeds() {
  std::vector<std::string> seeds;
  for (const char* n : {"fashion-mnist-mlp.yaml", "fashion-mnist-cnn.yaml", "smoke.yaml"}) {
    seeds.push_back(ReadExample(n));
    EXPECT_FALSE(seeds.back().empty()) << n;
  }
  seeds.push_back(
      "name: s\nsweep: {optimizer.lr: [0.1, 0.05], model.hidden: [[8], [16, 8]], max_parallel: 2}\n"
      "environment: {env: {A: \"${HOME:-x}\", B: '$$'}, setup: ['echo \"hi\" | cat', \"a\\tb\"]}\n"
      "resources: {partition: gpu, time: \"1-00:00:00\", mem: 16G}\n");
  return seeds;
}

const std::vector<std::string>& Tokens() {
  static const std::vector<std::string> kTokens = [] {
    std::vector<std::string> t = {
    ":", ": ", "- ", "[", "]", "{", "}", ",", "\"", "'", "#", "&a ", "*a", "!!str ", "|", ">", "? ",
    "---\n", "...\n", "\t", "\n", "  ", "${", "${HOME}", "${NOPE}", "$$", "null", "~", "true", "1e400",
    ".nan", "-1", "18446744073709551616", "0x1F", "\xff", "\xc3", "\xe2\x80\xa8", "\r\n", "%YAML 1.2\n",
    "<<: ", "[[[[[[[[[[[[", "]]]]]]]]", "{a: {b: {c: {d: {e: {f: ", "\\", "\\u", "@", "`", "é",
    };
    t.push_back(std::string(1, '\0'));
    return t;
  }();
  return kTokens;
}

std::string Mutate(std::string s, Rng* rng) {
  const int n = 1 + static_cast<int>(rng->Below(4));
  for (int m = 0; m < n; ++m) {
    const size_t pos = s.empty() ? 0 : rng->Below(s.size() + 1);
    switch (rng->Below(9)) {
      case 0:  // flip a byte
        if (!s.empty() && pos < s.size()) s[pos] = static_cast<char>(rng->Below(256));
        break;
      case 1:  // insert a YAML-significant token
        s.insert(pos, Tokens()[rng->Below(Tokens().size())]);
        break;
      case 2: {  // delete a range
        size_t len = rng->Below(20);
        if (pos < s.size()) s.erase(pos, len);
        break;
      }
      case 3: {  // duplicate a range somewhere else
        if (s.empty()) break;
        size_t a = rng->Below(s.size()), len = rng->Below(60);
        std::string piece = s.substr(a, len);
        s.insert(rng->Below(s.size() + 1), piece);
        break;
      }
      case 4: {  // swap two lines
        std::vector<std::string> lines;
        std::stringstream ss(s);
        for (std::string l; std::getline(ss, l);) lines.push_back(l);
        if (lines.size() > 1) std::swap(lines[rng->Below(lines.size())], lines[rng->Below(lines.size())]);
        s.clear();
        for (const auto& l : lines) s += l + "\n";
        break;
      }
      case 5:  // truncate
        s.resize(pos);
        break;
      case 6:  // change indentation of a line
        s.insert(pos, std::string(rng->Below(5), ' '));
        break;
      case 7:  // a NUL byte or other raw control byte
        s.insert(pos, 1, static_cast<char>(rng->Below(32)));
        break;
      case 8: {  // replace a digit run or word with a random number
        static const char* kNums[] = {"0", "-3", "2.5", "1e9", "99999999999", "7", "256", "\"12\""};
        s.insert(pos, kNums[rng->Below(8)]);
        break;
      }
    }
  }
  return s;
}

void CheckResult(const std::string& text, const SpecLoadResult& r, const std::vector<std::string>& overrides) {
  if (r.ok()) {
    ASSERT_TRUE(r.spec.has_value());
    ASSERT_TRUE(r.diagnostics.empty());
    const std::string canon = CanonicalYaml(*r.spec);
    auto back = testing_util::Load(canon);
    ASSERT_TRUE(back.ok()) << "canonical form of an accepted mutant does not load:\n"
                           << back.FormatAll() << "\n--- mutant:\n" << text;
    ASSERT_EQ(CanonicalYaml(*back.spec), canon) << "--- mutant:\n" << text;
    ASSERT_EQ(SpecHash(*back.spec), SpecHash(*r.spec));
    auto points = ExpandSweep(*r.spec);
    ASSERT_TRUE(points.ok()) << points.status().message();
    return;
  }
  ASSERT_FALSE(r.spec.has_value());
  ASSERT_FALSE(r.diagnostics.empty()) << "no spec and no diagnostic for:\n" << text;
  int lines = 1;
  for (char c : text) lines += c == '\n';
  for (const auto& d : r.diagnostics) {
    ASSERT_FALSE(d.message.empty() && d.line == 0 && d.key_path.empty());
    ASSERT_FALSE(d.Format().empty());
    if (d.file == "spec.yaml") {
      ASSERT_LE(d.line, lines) << d.Format();
    } else if (d.file.rfind("--set #", 0) == 0) {
      ASSERT_LE(std::stoul(d.file.substr(7)), overrides.size()) << d.Format();
    }
    for (unsigned char c : d.Format()) ASSERT_TRUE(c >= 0x20 || c == '\n' || c == '\t') << d.Format();
  }
}

TEST(Fuzz, MutatedExamplesNeverCrash) {
  const auto seeds = Seeds();
  const std::vector<std::string> override_pool = {
      "optimizer.lr=0.1", "model.hidden=[8,4]", "resources.nodes=x", "nope=1", "sweep={}", "=",
      "training.global_batch=[", "data.val=null", "name=${HOME}", "sweep.optimizer.lr=[0.1,0.2]"};
  Rng rng(20240601);
  int accepted = 0, rejected = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string text = Mutate(seeds[rng.Below(seeds.size())], &rng);
    std::vector<std::string> overrides;
    if (rng.Below(4) == 0) overrides.push_back(override_pool[rng.Below(override_pool.size())]);
    auto r = testing_util::Load(text, overrides);
    CheckResult(text, r, overrides);
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "iteration " << i;
      return;
    }
    (r.ok() ? accepted : rejected)++;
  }
  // Both outcomes occur (the mutations are neither all fatal nor all harmless).
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 1000);
}

TEST(Fuzz, RandomBytesNeverCrash) {
  Rng rng(7);
  for (int i = 0; i < 1000; ++i) {
    std::string text(rng.Below(400), '\0');
    for (auto& c : text) c = static_cast<char>(rng.Below(2) ? "ab: -[]{},'\"#&*!|>\n\t$"[rng.Below(22)] : rng.Below(256));
    auto r = testing_util::Load(text);
    CheckResult(text, r, {});
    if (::testing::Test::HasFatalFailure()) {
      ADD_FAILURE() << "iteration " << i;
      return;
    }
  }
}

}  // namespace
}  // namespace hpcai
