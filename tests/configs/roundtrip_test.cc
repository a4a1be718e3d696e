// Canonical form and hash: every key, schema order, deterministic; parse(canonical)
// gives the same spec, canonical text and hash; free strings survive verbatim.
#include <gtest/gtest.h>

#include <cmath>

#include "hpcai/base/rng.h"
#include "hpcai/configs/sha256.h"
#include "hpcai/configs/spec.h"
#include "spec_test_util.h"

namespace hpcai {
namespace {

using testing_util::Load;

// Loads `text`, then re-loads its canonical form; both must agree exactly.
void ExpectRoundTrip(const std::string& text) {
  auto a = Load(text);
  ASSERT_TRUE(a.ok()) << a.FormatAll();
  const std::string canon = CanonicalYaml(*a.spec);
  auto b = Load(canon);
  ASSERT_TRUE(b.ok()) << b.FormatAll() << "\n--- canonical:\n" << canon;
  EXPECT_EQ(CanonicalYaml(*b.spec), canon);
  EXPECT_EQ(SpecHash(*b.spec), SpecHash(*a.spec));
  EXPECT_EQ(SpecHash(*a.spec), Sha256Hex(canon));
}

TEST(RoundTrip, DefaultsAndFullSpecs) {
  ExpectRoundTrip("name: x\n");
  ExpectRoundTrip(
      "name: full\nbackend: slurm\nruns_root: /scratch/runs\n"
      "resources: {nodes: 4, tasks_per_node: 8, cpus_per_task: 2, mem: 64G, time: \"1-12:00:00\",\n"
      "            partition: gpu, account: proj1, qos: high, constraint: \"a100&ib\", exclusive: true}\n"
      "environment: {modules: [gcc/12, openmpi/4.1], env: {OMP_NUM_THREADS: 2, EMPTY: \"\"}, setup: [\"ulimit -n 4096\"]}\n"
      "launcher: srun\ntrain_binary: /opt/hpcai/bin/hpcai-train\n"
      "data: {train: /data/train, val: null, x: images, y: labels, shuffle: false, prefetch: 0, drop_last: true,\n"
      "       memory_budget_mb: 4096}\n"
      "model: {type: cnn, conv: [{filters: 16, kernel: 5, stride: 2, padding: 0, pool: 1}], hidden: [64, 32],\n"
      "        activation: gelu, dropout: 0.25, init: xavier}\n"
      "optimizer: {type: adamw, lr: 3e-4, weight_decay: 0.01, grad_clip: 1.0, beta1: 0.85, beta2: 0.95, eps: 1e-6,\n"
      "            momentum: 0.0}\n"
      "schedule: {type: step, warmup_steps: 0, step_size: 200, gamma: 0.5}\n"
      "training: {epochs: 3, max_steps: 1000, global_batch: 320, seed: 18446744073709551615, eval_every: 250,\n"
      "           log_every: 10, skip_nonfinite: true}\n"
      "checkpoint: {every_steps: 0, every_minutes: 2.5, keep_last: 1, async: false}\n"
      "preemption: {signal: TERM, lead_seconds: 600, requeue: false, max_restarts: 0}\n");
  ExpectRoundTrip("sweep: {optimizer.lr: [0.1, 0.05, 1e-3], model.hidden: [[256,128],[512]], max_parallel: 2,\n"
                  "        data.val: [null, /v], resources.partition: [a, \"b,c\"]}\n");
}

TEST(RoundTrip, CanonicalFormIsStableAndOrdered) {
  // Same spec written two ways (order, flow vs block, number spelling): same canonical text and hash.
  auto a = Load("optimizer: {momentum: 0.90, lr: 0.050}\nname: same\nresources: {nodes: 1}\n");
  auto b = Load("name: same\noptimizer:\n  lr: 5e-2\n  momentum: 0.9\n");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(CanonicalYaml(*a.spec), CanonicalYaml(*b.spec));
  EXPECT_EQ(SpecHash(*a.spec), SpecHash(*b.spec));
  // A different value changes the hash.
  auto c = Load("name: same\noptimizer: {lr: 0.0500001}\n");
  EXPECT_NE(SpecHash(*a.spec), SpecHash(*c.spec));
  // Schema order: sections appear in a fixed order regardless of input order.
  const std::string canon = CanonicalYaml(*a.spec);
  const char* order[] = {"\nname:", "\nbackend:", "\nruns_root:", "\nresources:", "\nenvironment:",
                         "\nlauncher:", "\ntrain_binary:", "\ndata:", "\nmodel:", "\noptimizer:",
                         "\nschedule:", "\ntraining:", "\ncheckpoint:", "\npreemption:", "\nsweep:"};
  size_t last = 0;
  for (const char* k : order) {
    size_t p = canon.find(k);
    ASSERT_NE(p, std::string::npos) << k;
    EXPECT_GT(p, last) << k;
    last = p;
  }
  // Without the sweep (per-point specs).
  EXPECT_EQ(CanonicalYaml(*a.spec, false).find("sweep"), std::string::npos);
}

TEST(RoundTrip, HashIsAPureFunctionOfTheSpec) {
  // The same file loaded twice, and a spec built in code, hash identically;
  // the known hash of the default spec pins the canonical format (update
  // deliberately: it changes every experiment's identity).
  auto a = Load("name: x\nruns_root: /r\ndata: {train: /t, val: /v}\n");
  auto b = Load("name: x\nruns_root: /r\ndata: {train: /t, val: /v}\n");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(SpecHash(*a.spec), SpecHash(*b.spec));
  ResolvedSpec s;
  s.name = "x";
  s.runs_root = "/r";
  s.data.train = "/t";
  s.data.val = "/v";
  EXPECT_EQ(SpecHash(s), SpecHash(*a.spec));
  EXPECT_EQ(SpecHash(s).size(), 64u);
}

// Shell metacharacters and other awkward text in every free string field are
// carried verbatim through load -> canonical -> load (quoting them for the
// shell is the job script renderer's business, not the spec's).
TEST(RoundTrip, ShellMetacharactersSurviveVerbatim) {
  const std::vector<std::string> nasty = {
      "$(rm -rf /)", "`reboot`", "a; b && c || d", "x | y > z < w", "'single' \"double\"",
      "back\\slash", "tab\there", "new\nline", "${HOME} and $HOME and $$", "#not a comment",
      "- dash", ": colon", "{braces} [brackets]", "*star &amp !bang %pct @at", "null", "~", "true",
      "", " leading and trailing ", "unicode é ☃ \u2028 \u0085", "\x7f del", "---", "...",
  };
  const ResolvedSpec base = *Load("name: x\n").spec;  // resolved (absolute paths)
  for (const auto& s : nasty) {
    ResolvedSpec spec = base;
    spec.environment.setup = {s, "echo " + s};
    spec.environment.env = {{"V", s}};
    spec.environment.modules = {"mod/1.0"};
    spec.resources.constraint = s.find('\n') == std::string::npos && s.find('\t') == std::string::npos &&
                                        s.find('\x7f') == std::string::npos && !s.empty()
                                    ? std::optional<std::string>(s)
                                    : std::nullopt;
    const std::string canon = CanonicalYaml(spec);
    auto r = Load(canon);
    ASSERT_TRUE(r.ok()) << "value " << s << "\n" << r.FormatAll() << canon;
    EXPECT_EQ(r.spec->environment.setup, spec.environment.setup) << s;
    ASSERT_EQ(r.spec->environment.env.size(), 1u);
    EXPECT_EQ(r.spec->environment.env[0].second, s);
    EXPECT_EQ(r.spec->resources.constraint, spec.resources.constraint);
    EXPECT_TRUE(CanonicalYaml(*r.spec) == canon) << "value " << s;
  }
}

TEST(RoundTrip, FreeStringsWrittenByUsersAreKeptExactly) {
  auto r = Load(
      "environment:\n"
      "  setup:\n"
      "    - 'echo \"$(hostname)\" | tee -a log; rm -f /tmp/x*'\n"
      "    - |\n"
      "      for i in 1 2; do\n"
      "        echo $i\n"
      "      done\n"
      "  env: {PS1: '\\$ ', GLOB: '*.h5', Q: \"it's\"}\n");
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  ASSERT_EQ(r.spec->environment.setup.size(), 2u);
  EXPECT_EQ(r.spec->environment.setup[0], "echo \"$(hostname)\" | tee -a log; rm -f /tmp/x*");
  EXPECT_EQ(r.spec->environment.setup[1], "for i in 1 2; do\n  echo $i\ndone\n");
  EXPECT_EQ(r.spec->environment.env[0].second, "\\$ ");
  EXPECT_EQ(r.spec->environment.env[1].second, "*.h5");
  EXPECT_EQ(r.spec->environment.env[2].second, "it's");
  ExpectRoundTrip(CanonicalYaml(*r.spec));
}

TEST(RoundTrip, RandomSpecsRoundTrip) {
  // Random values across the numeric fields (edge magnitudes included).
  Rng rng(42);
  auto u = [&] { return static_cast<double>(rng.NextU64() >> 11) * 0x1.0p-53; };  // 53-bit uniform
  const ResolvedSpec base = *Load("name: x\n").spec;
  for (int i = 0; i < 300; ++i) {
    ResolvedSpec s = base;
    s.optimizer.lr = std::ldexp(1.0 + u(), static_cast<int>(u() * 60) - 50);
    s.optimizer.momentum = u() * 0.999;
    s.model.dropout = u() * 0.99;
    s.checkpoint.every_minutes = std::floor(u() * 1e6) / 64.0;
    s.training.seed = rng.NextU64();
    s.schedule.min_lr = s.optimizer.lr * u();
    s.optimizer.eps = std::ldexp(1.0, -static_cast<int>(u() * 60) - 1);
    const std::string canon = CanonicalYaml(s);
    auto r = Load(canon);
    ASSERT_TRUE(r.ok()) << r.FormatAll() << canon;
    EXPECT_EQ(r.spec->optimizer.lr, s.optimizer.lr);  // bit-exact
    EXPECT_EQ(r.spec->optimizer.eps, s.optimizer.eps);
    EXPECT_EQ(r.spec->training.seed, s.training.seed);
    EXPECT_TRUE(CanonicalYaml(*r.spec) == canon) << canon;
  }
}

TEST(RoundTrip, ExpandedPointsRoundTrip) {
  auto r = Load("name: sw\nsweep: {optimizer.lr: [0.1, 0.2], model.hidden: [[8], [16, 8]]}\n");
  ASSERT_TRUE(r.ok());
  auto points = ExpandSweep(*r.spec);
  ASSERT_TRUE(points.ok());
  for (const auto& p : *points) {
    auto back = Load(CanonicalYaml(p));
    ASSERT_TRUE(back.ok()) << back.FormatAll();
    EXPECT_EQ(SpecHash(*back.spec), SpecHash(p));
    EXPECT_EQ(back.spec->name, p.name);
  }
}

}  // namespace
}  // namespace hpcai
