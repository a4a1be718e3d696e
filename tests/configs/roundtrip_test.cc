// Canonical form and hash: every key, schema order, deterministic; parse(canonical)
// gives the same spec, canonical text and hash; free strings survive verbatim.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <map>
#include <sstream>

#include "hpcai/base/rng.h"
#include "hpcai/base/sha256.h"
#include "hpcai/configs/spec_docs.h"
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

namespace hpcai {
namespace {

// Every string-valued key, tried with shell metacharacters through --set:
// each value is either rejected with a diagnostic at that key (names,
// enums, formats) or accepted and carried verbatim through the canonical
// round trip.  The key list is checked against the schema reference, so a
// new string key cannot be forgotten here.
TEST(RoundTrip, ShellMetacharactersInEveryStringField) {
  using Get = std::function<std::string(const ResolvedSpec&)>;
  const std::map<std::string, Get> fields = {
      {"name", [](const ResolvedSpec& s) { return s.name; }},
      {"backend", [](const ResolvedSpec& s) { return s.backend; }},
      {"runs_root", [](const ResolvedSpec& s) { return s.runs_root; }},
      {"resources.mem", [](const ResolvedSpec& s) { return s.resources.mem; }},
      {"resources.time", [](const ResolvedSpec& s) { return s.resources.time; }},
      {"resources.partition", [](const ResolvedSpec& s) { return s.resources.partition.value_or(""); }},
      {"resources.account", [](const ResolvedSpec& s) { return s.resources.account.value_or(""); }},
      {"resources.qos", [](const ResolvedSpec& s) { return s.resources.qos.value_or(""); }},
      {"resources.constraint", [](const ResolvedSpec& s) { return s.resources.constraint.value_or(""); }},
      {"environment.modules", [](const ResolvedSpec& s) { return s.environment.modules.at(0); }},
      {"environment.env", [](const ResolvedSpec& s) { return s.environment.env.at(0).second; }},
      {"environment.setup", [](const ResolvedSpec& s) { return s.environment.setup.at(0); }},
      {"launcher", [](const ResolvedSpec& s) { return s.launcher; }},
      {"train_binary", [](const ResolvedSpec& s) { return s.train_binary; }},
      {"data.train", [](const ResolvedSpec& s) { return s.data.train; }},
      {"data.val", [](const ResolvedSpec& s) { return s.data.val.value_or(""); }},
      {"data.x", [](const ResolvedSpec& s) { return s.data.x; }},
      {"data.y", [](const ResolvedSpec& s) { return s.data.y; }},
      {"model.type", [](const ResolvedSpec& s) { return s.model.type; }},
      {"model.activation", [](const ResolvedSpec& s) { return s.model.activation; }},
      {"model.init", [](const ResolvedSpec& s) { return s.model.init; }},
      {"optimizer.type", [](const ResolvedSpec& s) { return s.optimizer.type; }},
      {"schedule.type", [](const ResolvedSpec& s) { return s.schedule.type; }},
      {"training.precision", [](const ResolvedSpec& s) { return s.training.precision; }},
      {"training.eval_every", [](const ResolvedSpec& s) { return s.training.eval_every; }},
      {"preemption.signal", [](const ResolvedSpec& s) { return s.preemption.signal; }},
  };
  // Completeness: every key whose type is not numeric/boolean is listed above.
  std::istringstream md(SpecReferenceMarkdown());
  for (std::string line; std::getline(md, line);) {
    if (line.rfind("| `", 0) != 0 || line.find("sweep.") != std::string::npos) continue;
    std::string key = line.substr(3, line.find('`', 3) - 3);
    std::string type = line.substr(line.find("` | ") + 4);
    type = type.substr(0, type.find(" | `"));
    if (type.rfind("integer", 0) == 0 || type.rfind("number", 0) == 0 || type == "true \\| false" ||
        type.rfind("list of integers", 0) == 0 || type == "list of conv layers") {
      continue;
    }
    EXPECT_TRUE(fields.count(key)) << "string key not covered by this test: " << key << " (" << type << ")";
  }

  const std::vector<std::string> nasty = {"$(id)", "`id`", "a;b", "a&&b", "a|b", "a>b", "'q'", "\"dq\"",
                                          "a b", "$HOME", "${X:-y}", "$$", "\\\\n", "*", "#c", "~/x"};
  int accepted = 0, rejected = 0;
  for (const auto& [key, get] : fields) {
    for (const auto& raw : nasty) {
      // Written as a YAML double-quoted value; ${...} stays literal via $$.
      std::string literal;
      for (char c : raw) {
        if (c == '$') literal += "$$";
        else if (c == '"' || c == '\\') literal += std::string("\\") + c;
        else literal += c;
      }
      std::string value = "\"" + literal + "\"";
      std::string set = key + "=" + value;
      if (key == "environment.modules" || key == "environment.setup") set = key + "=[" + value + "]";
      if (key == "environment.env") set = key + "={V: " + value + "}";
      auto r = Load("name: x\n", {set});
      if (!r.ok()) {
        // Rejected: the diagnostic names the key (or an item of it).
        bool named = false;
        for (const auto& d : r.diagnostics) named = named || d.key_path.rfind(key, 0) == 0;
        EXPECT_TRUE(named) << set << "\n" << r.FormatAll();
        ++rejected;
        continue;
      }
      ++accepted;
      const std::string got = get(*r.spec);
      const bool is_path = key == "runs_root" || key == "train_binary" || key == "data.train" || key == "data.val";
      if (is_path) {
        // Paths are made absolute; the text itself is kept (as the last component(s)).
        std::string tail = raw.rfind("~/", 0) == 0 ? raw.substr(1) : raw;
        EXPECT_NE(got.find(tail), std::string::npos) << set << " -> " << got;
      } else {
        EXPECT_EQ(got, raw) << set;
      }
      const std::string canon = CanonicalYaml(*r.spec);
      auto back = Load(canon);
      ASSERT_TRUE(back.ok()) << set << "\n" << back.FormatAll();
      EXPECT_EQ(get(*back.spec), got) << set;
      EXPECT_EQ(CanonicalYaml(*back.spec), canon) << set;
    }
  }
  // The 10 free-string and path keys take every value (module names refuse
  // only "a b"); names, enums and formats take none.
  EXPECT_EQ(accepted, 10 * 16 - 1) << "accepted " << accepted << ", rejected " << rejected;
  EXPECT_EQ(accepted + rejected, static_cast<int>(fields.size() * nasty.size()));
}

}  // namespace
}  // namespace hpcai
