// job.sbatch rendering: golden scripts, validation, injection attempts in
// every string field, and the script's own runtime behaviour (exit file,
// signal forwarding, re-wait after a trap) executed by bash with a stand-in
// `mpirun` (a unit-test fake: the real launch is covered by the Slurm
// integration tests).
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "hpcai/base/fs.h"
#include "hpcai/base/json.h"
#include "hpcai/slurm/render.h"
#include "slurm/slurm_test_util.h"

namespace hpcai::slurm {
namespace {

using testing::GoldenPath;
using testing::MakeTempDir;
using testing::RunShell;
using testing::SmallSpec;
using testing::WriteExecutable;

ScriptInput DefaultInput() {
  ScriptInput in;
  in.spec = ResolvedSpec();  // all schema defaults
  in.spec.name = "mnist-mlp";
  in.id = "mnist-mlp-20240102-030405-beef";
  in.job_dir = "/scratch/alice/runs/mnist-mlp-20240102-030405-beef";
  in.train_binary = "/opt/hpcai/bin/hpcai-train";
  in.spec_hash = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  return in;
}

void ExpectGolden(const std::string& name, const std::string& text) {
  std::string path = GoldenPath(name);
  if (const char* up = std::getenv("HPCAI_UPDATE_GOLDEN"); up && std::string(up) == "1") {
    ASSERT_TRUE(fs::AtomicWriteFile(path, text).ok());
  }
  auto want = fs::ReadFile(path);
  ASSERT_TRUE(want.ok()) << want.status().ToString() << " (run with HPCAI_UPDATE_GOLDEN=1 to create)";
  EXPECT_EQ(*want, text) << "rendered script differs from " << path
                         << " (if intended, regenerate with HPCAI_UPDATE_GOLDEN=1)";
}

TEST(Render, GoldenDefaultSpec) {
  auto s = RenderJobScript(DefaultInput());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectGolden("default.sbatch", *s);
}

TEST(Render, GoldenAllOptions) {
  ScriptInput in = DefaultInput();
  auto& r = in.spec.resources;
  r.nodes = 4;
  r.tasks_per_node = 8;
  r.cpus_per_task = 6;
  r.gpus_per_node = 8;
  r.mem = "480G";
  r.time = "1-12:00:00";
  r.partition = "gpu";
  r.account = "proj-42";
  r.qos = "high";
  r.constraint = "a100&ib";
  r.exclusive = true;
  in.spec.environment.modules = {"gcc/12.2", "openmpi/4.1.4"};
  in.spec.environment.env = {{"OMP_NUM_THREADS", "6"}, {"NCCL_DEBUG", "WARN"}, {"MSG", "it's \"fine\" $HOME"}};
  in.spec.environment.setup = {"source /opt/venv/bin/activate", "ulimit -n 65536"};
  in.spec.launcher = "mpirun";
  in.spec.preemption.signal = "USR2";
  in.spec.preemption.lead_seconds = 300;
  in.spec.preemption.requeue = false;
  auto s = RenderJobScript(in);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectGolden("all-options.sbatch", *s);
  EXPECT_NE(s->find("#SBATCH --gpus-per-node=8"), std::string::npos);
  EXPECT_NE(s->find("#SBATCH --no-requeue"), std::string::npos);
  EXPECT_NE(s->find("#SBATCH --signal=B:USR2@300"), std::string::npos);
  EXPECT_NE(s->find("trap 'hpcai_forward TERM' TERM"), std::string::npos);
}

TEST(Render, GoldenSweepArray) {
  ScriptInput in = DefaultInput();
  in.id = "lr-sweep-20240102-030405-cafe";
  in.job_dir = "/scratch/alice/runs/lr-sweep-20240102-030405-cafe";
  for (int i = 0; i < 3; ++i) in.task_run_dirs.push_back(in.job_dir + "/" + in.id + "_" + std::to_string(i));
  in.array_parallelism = 2;
  auto s = RenderJobScript(in);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ExpectGolden("sweep.sbatch", *s);
  EXPECT_NE(s->find("#SBATCH --array=0-2%2"), std::string::npos);
  EXPECT_NE(s->find("slurm-%A_%a.out"), std::string::npos);
}

TEST(Render, Deterministic) {
  auto a = RenderJobScript(DefaultInput());
  auto b = RenderJobScript(DefaultInput());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
}

TEST(Render, GpusLineOnlyWhenRequested) {
  auto s = RenderJobScript(DefaultInput());
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->find("--gpus-per-node"), std::string::npos);
  EXPECT_EQ(s->find("--partition"), std::string::npos);
  EXPECT_NE(s->find("#SBATCH --requeue"), std::string::npos);
}

TEST(Render, BashSyntaxOfEveryGolden) {
  for (const char* g : {"default.sbatch", "all-options.sbatch", "sweep.sbatch"}) {
    std::string out;
    EXPECT_EQ(RunShell("bash -n '" + GoldenPath(g) + "'", &out), 0) << g << ": " << out;
  }
}

TEST(Render, ParseTimeLikeSbatch) {
  EXPECT_EQ(*ParseTimeMinutes("30"), 30);
  EXPECT_EQ(*ParseTimeMinutes("30:01"), 31);  // seconds round up
  EXPECT_EQ(*ParseTimeMinutes("01:00:00"), 60);
  EXPECT_EQ(*ParseTimeMinutes("2-00"), 2880);
  EXPECT_EQ(*ParseTimeMinutes("1-01:30"), 1530);
  EXPECT_EQ(*ParseTimeMinutes("1-00:00:30"), 1441);
  for (const char* bad : {"", "abc", "1:2:3:4", "-5", "1-", "0", "00:00:00", "1h"}) {
    auto r = ParseTimeMinutes(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("resources.time"), std::string::npos);
    }
  }
}

TEST(Render, ParseMemLikeSbatch) {
  EXPECT_EQ(*ParseMemMiB("4G"), 4096);
  EXPECT_EQ(*ParseMemMiB("500M"), 500);
  EXPECT_EQ(*ParseMemMiB("500"), 500);
  EXPECT_EQ(*ParseMemMiB("1025K"), 2);
  EXPECT_EQ(*ParseMemMiB("1T"), 1048576);
  for (const char* bad : {"", "G", "4GB", "4 G", "-1G", "4X"}) EXPECT_FALSE(ParseMemMiB(bad).ok()) << bad;
}

TEST(Render, JobRequestMatchesSpec) {
  ScriptInput in = DefaultInput();
  in.spec.resources.nodes = 2;
  in.spec.resources.tasks_per_node = 3;
  auto j = MakeJobRequest(in);
  ASSERT_TRUE(j.ok());
  EXPECT_EQ(j->ntasks(), 6);
  EXPECT_EQ(j->time_minutes, 30);
  EXPECT_EQ(j->mem_mb, 4096);
  EXPECT_EQ(j->signal_number, SIGUSR1);
  EXPECT_EQ(j->output, in.job_dir + "/logs/slurm-%j.out");
  EXPECT_EQ(j->work_dir, in.job_dir);
  EXPECT_TRUE(j->array.empty());
}

TEST(Render, ShellQuote) {
  EXPECT_EQ(ShellQuote("abc"), "'abc'");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote(""), "''");
}

TEST(Render, SweepMustBeUniform) {
  std::vector<ResolvedSpec> tasks(3, SmallSpec("s"));
  tasks[1].optimizer.lr = 0.5;
  EXPECT_TRUE(CheckSweepUniform(tasks).ok());
  tasks[2].resources.nodes = 2;
  Status st = CheckSweepUniform(tasks);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("resources"), std::string::npos);
}

// ---- injection -----------------------------------------------------------------

// Payloads that would run `touch <marker>` if any reached the shell unquoted.
std::vector<std::string> Payloads(const std::string& marker) {
  return {
      "$(touch " + marker + ")",
      "`touch " + marker + "`",
      "x; touch " + marker,
      "x\ntouch " + marker + "\n",
      "x' ; touch " + marker + " ; echo '",
      "x\" ; touch " + marker + " ; echo \"",
      "x'\"$(touch " + marker + ")\"'",
      "x && touch " + marker + " #",
      "x | touch " + marker,
      "${IFS}$(touch " + marker + ")",
      "\\'; touch " + marker + "; #",
  };
}

// Fields that Slurm reads on #SBATCH lines must reject every payload.
TEST(RenderInjection, SbatchFieldsRejectEveryPayload) {
  std::string marker = "/tmp/hpcai-never-created";
  for (const std::string& p : Payloads(marker)) {
    for (int field = 0; field < 6; ++field) {
      ScriptInput in = DefaultInput();
      std::string key;
      switch (field) {
        case 0: in.spec.resources.partition = "debug" + p; key = "resources.partition"; break;
        case 1: in.spec.resources.account = "acct" + p; key = "resources.account"; break;
        case 2: in.spec.resources.qos = "normal" + p; key = "resources.qos"; break;
        case 3: in.spec.resources.constraint = "ib" + p; key = "resources.constraint"; break;
        case 4: in.job_dir = "/scratch/runs/" + p; key = "runs_root"; break;
        case 5: in.spec.name = "n" + p; key = "name"; break;
      }
      auto r = RenderJobScript(in);
      ASSERT_FALSE(r.ok()) << key << " accepted payload: " << p;
      EXPECT_NE(r.status().message().find(key), std::string::npos) << r.status().message();
    }
  }
  ScriptInput in = DefaultInput();
  in.spec.resources.mem = "4G; touch x";
  EXPECT_FALSE(RenderJobScript(in).ok());
  in = DefaultInput();
  in.spec.resources.time = "10 --wrap=id";
  EXPECT_FALSE(RenderJobScript(in).ok());
  in = DefaultInput();
  in.spec.environment.env = {{"A;touch x", "1"}};
  EXPECT_FALSE(RenderJobScript(in).ok());
  in = DefaultInput();
  in.spec.environment.env = {{"HPCAI_RUN_DIR", "/etc"}};
  EXPECT_FALSE(RenderJobScript(in).ok());
  in = DefaultInput();
  in.spec.preemption.signal = "USR1 --wrap=id";
  EXPECT_FALSE(RenderJobScript(in).ok());
  in = DefaultInput();
  in.spec.launcher = "srun; touch x";
  EXPECT_FALSE(RenderJobScript(in).ok());
  in = DefaultInput();
  in.task_run_dirs = {"/ok/dir", "/bad dir"};
  EXPECT_FALSE(RenderJobScript(in).ok());
}

// Shell-side fields: the script is executed for real (local path: no
// SLURM_JOB_ID) with a stand-in mpirun and module that record what they got.
// No payload may create the marker, and each value must arrive byte-exact.
class ScriptRun : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("render");
    ASSERT_FALSE(dir_.empty());
    bin_ = dir_ + "/bin";
    ASSERT_TRUE(fs::MakeDirs(bin_).ok());
    run_ = dir_ + "/run";
    ASSERT_TRUE(fs::MakeDirs(run_).ok());
    marker_ = dir_ + "/MARKER";
    // mpirun stand-in: records argv (one per line) and the env value of INJ,
    // then runs the "rank" command line it was given (the train binary).
    WriteExecutable(bin_ + "/mpirun",
                    "#!/bin/bash\n"
                    "printf '%s\\n' \"$@\" > \"$HPCAI_RUN_DIR/argv\"\n"
                    "printf '%s' \"${INJ-unset}\" > \"$HPCAI_RUN_DIR/inj\"\n"
                    "exit ${FAKE_STEP_EXIT:-0}\n");
    WriteExecutable(bin_ + "/srun", *fs::ReadFile(bin_ + "/mpirun"));
    WriteExecutable(bin_ + "/module",
                    "#!/bin/bash\n"
                    "printf '%s\\n' \"$2\" >> \"$HPCAI_RUN_DIR/modules\"\n");
  }
  void TearDown() override { (void)fs::RemoveAll(dir_); }

  ScriptInput Input() {
    ScriptInput in = DefaultInput();
    in.job_dir = run_;
    in.id = "inj-20240102-030405-0000";
    in.spec.name = "inj";
    in.train_binary = "/opt/hpcai/bin/hpcai-train";
    return in;
  }

  // Renders, checks `bash -n`, runs it; returns the script's exit status.
  int RenderAndRun(const ScriptInput& in, const std::string& extra_env = "") {
    auto s = RenderJobScript(in);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return -1;
    std::string script = dir_ + "/job.sbatch";
    EXPECT_TRUE(fs::AtomicWriteFile(script, *s).ok());
    std::string out;
    EXPECT_EQ(RunShell("bash -n '" + script + "'", &out), 0) << out << "\n" << *s;
    // env -u: the script must take its local path even when the test runs inside a Slurm job.
    return RunShell("env -u SLURM_JOB_ID -u SLURM_ARRAY_JOB_ID -u SLURM_ARRAY_TASK_ID -u SLURM_RESTART_COUNT " +
                    extra_env + " PATH='" + bin_ + "':\"$PATH\" bash '" + script + "'", &out);
  }

  std::string Read(const std::string& name) {
    auto r = fs::ReadFile(run_ + "/" + name);
    return r.ok() ? *r : "<missing " + name + ">";
  }

  // Runs the default input's script in the background, sends it USR1 as soon
  // as the stand-in step has written run/step-started, and returns the output
  // ending with "rc=<the script's exit status>".
  std::string RunSignalledAfterStepStarted() {
    auto s = RenderJobScript(Input());
    EXPECT_TRUE(s.ok());
    if (!s.ok()) return "";
    std::string script = dir_ + "/job.sbatch";
    EXPECT_TRUE(fs::AtomicWriteFile(script, *s).ok());
    std::string cmd =
        "env -u SLURM_JOB_ID -u SLURM_ARRAY_JOB_ID -u SLURM_RESTART_COUNT PATH='" + bin_ +
        "':\"$PATH\" bash '" + script + "' & pid=$!; "
        "for i in $(seq 1 100); do [ -f '" + run_ + "/step-started' ] && break; sleep 0.05; done; "
        "kill -USR1 $pid; wait $pid; echo rc=$?";
    std::string out;
    RunShell(cmd, &out);
    return out;
  }

  std::string dir_, bin_, run_, marker_;
};

TEST_F(ScriptRun, EnvValuesArriveLiterally) {
  for (const std::string& p : Payloads(marker_)) {
    ScriptInput in = Input();
    in.spec.environment.env = {{"INJ", p}};
    EXPECT_EQ(RenderAndRun(in), 0);
    EXPECT_FALSE(fs::Exists(marker_)) << "payload executed: " << p;
    EXPECT_EQ(Read("inj"), p);
  }
}

TEST_F(ScriptRun, ModuleNamesArriveLiterally) {
  for (const std::string& p : Payloads(marker_)) {
    ScriptInput in = Input();
    in.spec.environment.modules = {p};
    (void)fs::RemoveAll(run_ + "/modules");
    EXPECT_EQ(RenderAndRun(in), 0);
    EXPECT_FALSE(fs::Exists(marker_)) << "payload executed: " << p;
    EXPECT_EQ(Read("modules"), p + "\n");
  }
}

TEST_F(ScriptRun, TrainBinaryPathArrivesLiterally) {
  for (const std::string& p : Payloads(marker_)) {
    ScriptInput in = Input();
    in.train_binary = "/opt/" + p;
    EXPECT_EQ(RenderAndRun(in), 0);
    EXPECT_FALSE(fs::Exists(marker_)) << "payload executed: " << p;
    std::string argv = Read("argv");
    EXPECT_NE(argv.find("/opt/" + p + "\n--run-dir\n" + run_ + "\n"), std::string::npos) << argv;
  }
}

TEST_F(ScriptRun, RunDirWithQuotesInSweepCaseIsLiteral) {
  // Run dirs are validated for #SBATCH, but the case statement quotes them too.
  ScriptInput in = Input();
  in.task_run_dirs = {run_};
  EXPECT_EQ(RenderAndRun(in, "HPCAI_ARRAY_TASK_ID=0"), 0);
  EXPECT_NE(Read("argv").find("--run-dir\n" + run_ + "\n"), std::string::npos);
  // An unknown task id is refused, not evaluated.
  EXPECT_EQ(RenderAndRun(in, "HPCAI_ARRAY_TASK_ID='$(touch " + marker_ + ")'"), 2);
  EXPECT_FALSE(fs::Exists(marker_));
}

// Setup lines are the user's own shell by design (documented): they do run.
TEST_F(ScriptRun, SetupLinesRunAsWritten) {
  ScriptInput in = Input();
  in.spec.environment.setup = {"touch '" + marker_ + "'", "export INJ=from-setup"};
  EXPECT_EQ(RenderAndRun(in), 0);
  EXPECT_TRUE(fs::Exists(marker_));
  EXPECT_EQ(Read("inj"), "from-setup");
}

TEST_F(ScriptRun, ExitFileAndLogsPerRestart) {
  ScriptInput in = Input();
  EXPECT_EQ(RenderAndRun(in, "FAKE_STEP_EXIT=3"), 3);
  auto names = fs::ListDir(run_ + "/logs");
  ASSERT_TRUE(names.ok());
  std::string exit_name, out_name;
  for (const auto& n : *names) {
    if (n.rfind("exit-local-", 0) == 0) exit_name = n;
    if (n.rfind("slurm-local-", 0) == 0 && n.find("-0.out") != std::string::npos) out_name = n;
  }
  ASSERT_FALSE(exit_name.empty());
  ASSERT_FALSE(out_name.empty());
  auto j = Json::Parse(Read("logs/" + exit_name));
  ASSERT_TRUE(j.ok()) << Read("logs/" + exit_name);
  EXPECT_EQ(j->get("exit").as_int(), 3);
  EXPECT_EQ(j->get("restart").as_int(), 0);
  EXPECT_EQ("exit-" + j->get("job_id").as_string() + "-0.json", exit_name);
  EXPECT_FALSE(j->get("finished_at").as_string().empty());
  EXPECT_NE(Read("logs/" + out_name).find("step ended with exit code 3"), std::string::npos);
  // Under Slurm (srun stand-in), a restart gets its own log and exit files.
  EXPECT_EQ(RenderAndRun(in, "SLURM_JOB_ID=77 SLURM_RESTART_COUNT=1 FAKE_STEP_EXIT=75"), 75);
  EXPECT_TRUE(fs::Exists(run_ + "/logs/slurm-77-1.out"));
  EXPECT_TRUE(fs::Exists(run_ + "/logs/slurm-77-1.err"));
  auto j1 = Json::Parse(Read("logs/exit-77-1.json"));
  ASSERT_TRUE(j1.ok());
  EXPECT_EQ(j1->get("job_id").as_string(), "77");
  EXPECT_EQ(j1->get("restart").as_int(), 1);
  EXPECT_EQ(j1->get("exit").as_int(), 75);
  EXPECT_NE(Read("argv").find("--kill-on-bad-exit=1"), std::string::npos) << "srun launch expected";
}

// The trap forwards the preemption signal to the step, and `wait` resumes
// so the exit file carries the step's own exit code (75), not 128+signal.
TEST_F(ScriptRun, PreemptionSignalForwardedAndWaited) {
  WriteExecutable(bin_ + "/mpirun",
                  "#!/bin/bash\n"
                  "trap 'echo got-usr1 >> \"$HPCAI_RUN_DIR/step-signals\"; sleep 0.3; exit 75' USR1\n"
                  ": > \"$HPCAI_RUN_DIR/logs/ready-$HPCAI_JOB_ID-$HPCAI_RESTART\"\n"
                  "echo started > \"$HPCAI_RUN_DIR/step-started\"\n"
                  "for i in $(seq 1 200); do sleep 0.05; done\n"
                  "exit 9\n");
  const std::string out = RunSignalledAfterStepStarted();
  EXPECT_NE(out.find("rc=75"), std::string::npos) << out;
  EXPECT_EQ(Read("step-signals"), "got-usr1\n");
  auto names = fs::ListDir(run_ + "/logs");
  ASSERT_TRUE(names.ok());
  bool found = false;
  for (const auto& n : *names) {
    if (n.rfind("exit-", 0) != 0) continue;
    auto j = Json::Parse(Read("logs/" + n));
    ASSERT_TRUE(j.ok());
    EXPECT_EQ(j->get("exit").as_int(), 75);
    found = true;
  }
  EXPECT_TRUE(found);
}

// A signal that arrives before the step has installed its handlers (no
// logs/ready-<job>-<restart> yet) is held, not delivered into the launcher's
// or a rank's default action, and delivered once the marker appears.
TEST_F(ScriptRun, EarlySignalHeldUntilTheStepIsReady) {
  WriteExecutable(bin_ + "/mpirun",
                  "#!/bin/bash\n"
                  "ready=\"$HPCAI_RUN_DIR/logs/ready-$HPCAI_JOB_ID-$HPCAI_RESTART\"\n"
                  // Before its handler exists the step would die of USR1: record that instead.
                  "trap 'echo early >> \"$HPCAI_RUN_DIR/step-signals\"' USR1\n"
                  "echo started > \"$HPCAI_RUN_DIR/step-started\"\n"
                  "sleep 1\n"
                  "trap 'echo got-usr1 >> \"$HPCAI_RUN_DIR/step-signals\"; exit 75' USR1\n"
                  ": > \"$ready\"\n"
                  "for i in $(seq 1 200); do sleep 0.05; done\n"
                  "exit 9\n");
  const std::string out = RunSignalledAfterStepStarted();
  EXPECT_NE(out.find("rc=75"), std::string::npos) << out;
  EXPECT_EQ(Read("step-signals"), "got-usr1\n");  // never "early"
  std::string log;
  auto names = fs::ListDir(run_ + "/logs");
  ASSERT_TRUE(names.ok());
  for (const auto& n : *names) {
    if (n.rfind("slurm-", 0) == 0 && n.find(".out") != std::string::npos) log += Read("logs/" + n);
  }
  EXPECT_NE(log.find("has not installed its signal handlers yet; SIGUSR1 follows"), std::string::npos) << log;
}

// The requeue is the job script's last action, after the step exited 75 and
// only when rank 0 asked for it (logs/requeue-<job>-<restart>.json).  The
// stand-in scontrol records its argv and the exit record it finds, then
// signals TERM to itself and to the script as Slurm does once a job is
// requeued: both must survive it (TERM ignored) and the log line must follow.
class RequeueRun : public ScriptRun {
 protected:
  void SetUp() override {
    ScriptRun::SetUp();
    // srun stand-in (the Slurm path): optionally leaves the checkpoint marker and
    // the requeue request as hpcai-train rank 0 does, then exits FAKE_STEP_EXIT.
    WriteExecutable(bin_ + "/srun",
                    "#!/bin/bash\n"
                    "logs=\"$HPCAI_RUN_DIR/logs\"\n"
                    "[ -n \"${FAKE_MARKER:-}\" ] && echo '{}' > \"$logs/checkpointed-$HPCAI_JOB_ID-$HPCAI_RESTART.json\"\n"
                    "[ -n \"${FAKE_REQUEST:-}\" ] && echo '{}' > \"$logs/requeue-$HPCAI_JOB_ID-$HPCAI_RESTART.json\"\n"
                    "echo 'rank 0: preempted'\n"
                    "exit ${FAKE_STEP_EXIT:-0}\n");
    WriteExecutable(bin_ + "/mpirun", *fs::ReadFile(bin_ + "/srun"));
    WriteExecutable(bin_ + "/scontrol",
                    "#!/bin/bash\n"
                    "printf '%s\\n' \"$@\" >> \"$HPCAI_RUN_DIR/scontrol-argv\"\n"
                    "cat \"$HPCAI_RUN_DIR/logs/exit-$HPCAI_JOB_ID-$HPCAI_RESTART.json\" > \"$HPCAI_RUN_DIR/exit-at-requeue\"\n"
                    "p=$PPID\n"
                    "for i in 1 2; do\n"
                    "  grep -q job.sbatch /proc/$p/cmdline 2>/dev/null && kill -TERM $p\n"
                    "  p=$(awk '{print $4}' /proc/$p/stat)\n"
                    "done\n"
                    "kill -TERM $$\n"
                    "echo 'scontrol: error: fake refusal' >&2\n"
                    "exit ${FAKE_SCONTROL_EXIT:-0}\n");
  }
  // Each call is a fresh start of job 77, restart 1.
  int Run(const ScriptInput& in, const std::string& env) {
    for (const char* f : {"/logs", "/scontrol-argv", "/exit-at-requeue"}) EXPECT_TRUE(fs::RemoveAll(run_ + f).ok());
    return RenderAndRun(in, "SLURM_JOB_ID=77 SLURM_RESTART_COUNT=1 " + env);
  }
  ScriptInput In() {
    ScriptInput in = Input();
    in.spec.preemption.max_restarts = 3;
    return in;
  }
};

TEST_F(RequeueRun, RequeuesAfterTheStepExitedAsLastAction) {
  EXPECT_EQ(Run(In(), "FAKE_STEP_EXIT=75 FAKE_MARKER=1 FAKE_REQUEST=1"), 75);
  EXPECT_EQ(Read("scontrol-argv"), "requeue\n77\n");
  // The attempt's end was recorded before the requeue.
  auto at = Json::Parse(Read("exit-at-requeue"));
  ASSERT_TRUE(at.ok()) << Read("exit-at-requeue");
  EXPECT_EQ(at->get("exit").as_int(), 75);
  EXPECT_EQ(Read("logs/exit-77-1.json"), Read("exit-at-requeue"));
  EXPECT_TRUE(at->get("requeue").is_null());
  const std::string log = Read("logs/slurm-77-1.out");
  const size_t end = log.find("hpcai: step ended with exit code 75");
  const size_t rq = log.find("hpcai: requeued job 77 (restart 2 of at most 3)\n");
  ASSERT_NE(end, std::string::npos) << log;
  ASSERT_NE(rq, std::string::npos) << log;
  EXPECT_LT(end, rq);
  EXPECT_EQ(log.size(), rq + std::string("hpcai: requeued job 77 (restart 2 of at most 3)\n").size())
      << "the requeue line is the last one:\n" << log;
  EXPECT_EQ(log.find("got SIGTERM"), std::string::npos) << "TERM after the requeue is ignored:\n" << log;
}

TEST_F(RequeueRun, KilledStepAfterItsCheckpointIsRequeued) {
  // srun --kill-on-bad-exit may report 128+9 for ranks it killed as they exited 75.
  EXPECT_EQ(Run(In(), "FAKE_STEP_EXIT=137 FAKE_MARKER=1 FAKE_REQUEST=1"), 75);
  EXPECT_EQ(Read("scontrol-argv"), "requeue\n77\n");
  EXPECT_NE(Read("logs/slurm-77-1.out").find("step ended with 137 after its preemption checkpoint; recorded as 75"),
            std::string::npos);
}

TEST_F(RequeueRun, NoRequeueWithoutRequestOrWithoutExit75) {
  EXPECT_EQ(Run(In(), "FAKE_STEP_EXIT=75 FAKE_MARKER=1"), 75);  // max_restarts reached: no request
  EXPECT_FALSE(fs::Exists(run_ + "/scontrol-argv"));
  EXPECT_EQ(Run(In(), "FAKE_STEP_EXIT=1 FAKE_REQUEST=1"), 1);  // failed before its checkpoint
  EXPECT_FALSE(fs::Exists(run_ + "/scontrol-argv"));
  EXPECT_EQ(Run(In(), "FAKE_STEP_EXIT=0 FAKE_REQUEST=1"), 0);
  EXPECT_FALSE(fs::Exists(run_ + "/scontrol-argv"));
  EXPECT_EQ(Read("logs/slurm-77-1.out").find("requeue"), std::string::npos) << Read("logs/slurm-77-1.out");
  // Local backend: no Slurm job to requeue.
  EXPECT_TRUE(fs::RemoveAll(run_ + "/logs").ok());
  EXPECT_EQ(RenderAndRun(In(), "FAKE_STEP_EXIT=75 FAKE_REQUEST=1"), 75);
  EXPECT_FALSE(fs::Exists(run_ + "/scontrol-argv"));
  // preemption.requeue false: the script has no requeue step at all.
  ScriptInput off = In();
  off.spec.preemption.requeue = false;
  EXPECT_EQ(Run(off, "FAKE_STEP_EXIT=75 FAKE_REQUEST=1"), 75);
  EXPECT_FALSE(fs::Exists(run_ + "/scontrol-argv"));
  EXPECT_EQ(RenderJobScript(off)->find("scontrol requeue"), std::string::npos);
}

TEST_F(RequeueRun, FailedRequeueIsLoggedAndRecorded) {
  EXPECT_EQ(Run(In(), "FAKE_STEP_EXIT=75 FAKE_REQUEST=1 FAKE_SCONTROL_EXIT=1"), 75);
  const std::string log = Read("logs/slurm-77-1.out");
  EXPECT_NE(log.find("hpcai: requeue of job 77 failed (scontrol exit 1): scontrol: error: fake refusal\n"),
            std::string::npos) << log;
  EXPECT_NE(log.find("continue with `hpcai resume " + run_ + "`"), std::string::npos) << log;
  EXPECT_EQ(log.find("hpcai: requeued job"), std::string::npos) << log;
  auto j = Json::Parse(Read("logs/exit-77-1.json"));
  ASSERT_TRUE(j.ok()) << Read("logs/exit-77-1.json");
  EXPECT_EQ(j->get("exit").as_int(), 75);
  EXPECT_EQ(j->get("requeue").as_string(), "failed (scontrol exit 1)");
  auto first = Json::Parse(Read("exit-at-requeue"));
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(j->get("finished_at").as_string(), first->get("finished_at").as_string());
}

TEST_F(RequeueRun, RunDirWithQuotesReachesNoShell) {
  // The run directory is validated for #SBATCH, but the requeue step only
  // ever uses it quoted: a hostile one must neither break nor run anything.
  ScriptInput in = In();
  const std::string hostile = run_ + "/a'b$(touch " + marker_ + ")";
  ASSERT_TRUE(fs::MakeDirs(hostile).ok());
  auto s = RenderJobScript(in);
  ASSERT_TRUE(s.ok());
  std::string text = *s;
  const std::string quoted_old = ShellQuote(run_);
  const size_t at = text.find("HPCAI_RUN_DIR=" + quoted_old);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, std::string("HPCAI_RUN_DIR=").size() + quoted_old.size(), "HPCAI_RUN_DIR=" + ShellQuote(hostile));
  ASSERT_TRUE(fs::AtomicWriteFile(dir_ + "/job.sbatch", text).ok());
  std::string out;
  EXPECT_EQ(RunShell("env SLURM_JOB_ID=77 SLURM_RESTART_COUNT=1 FAKE_STEP_EXIT=75 FAKE_REQUEST=1 PATH='" + bin_ +
                         "':\"$PATH\" bash '" + dir_ + "/job.sbatch'",
                     &out),
            75)
      << out;
  EXPECT_FALSE(fs::Exists(marker_));
  EXPECT_TRUE(fs::Exists(hostile + "/scontrol-argv"));
  EXPECT_NE(Read("a'b$(touch " + marker_ + ")/logs/slurm-77-1.out").find("hpcai: requeued job 77"), std::string::npos);
}

}  // namespace
}  // namespace hpcai::slurm

namespace hpcai::slurm {
namespace {

// Issue 8: a spec asking for 4 GPUs per node, loaded through the real spec
// loader (one rank per GPU by default) and rendered for srun.
TEST(Render, GoldenGpuSpecFromYaml) {
  SpecLoadOptions lo;
  lo.check_data = false;
  lo.cuda_available = true;
  SpecLoadResult r = LoadSpecText(
      "name: resnet-gpu\nlauncher: srun\nresources: {nodes: 2, gpus_per_node: 4, cpus_per_task: 8, mem: 64G}\n"
      "data: {train: /scratch/data/train, val: null}\ntraining: {global_batch: 512}\n",
      "gpu.yaml", lo);
  ASSERT_TRUE(r.ok()) << r.FormatAll();
  EXPECT_EQ(r.spec->resources.tasks_per_node, 4) << "one rank per GPU by default";
  ScriptInput in = DefaultInput();
  in.spec = *r.spec;
  in.id = "resnet-gpu-20240102-030405-beef";
  in.job_dir = "/scratch/alice/runs/resnet-gpu-20240102-030405-beef";
  auto s = RenderJobScript(in);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_NE(s->find("#SBATCH --gpus-per-node=4 "), std::string::npos);
  EXPECT_NE(s->find("#SBATCH --ntasks-per-node=4 "), std::string::npos);
  EXPECT_NE(s->find("srun --kill-on-bad-exit=1 --ntasks=8 --ntasks-per-node=4 "), std::string::npos);
  ExpectGolden("gpu-4-per-node.sbatch", *s);

  // An explicit tasks_per_node is kept.
  SpecLoadResult r2 = LoadSpecText(
      "name: g2\nresources: {gpus_per_node: 4, tasks_per_node: 1}\ndata: {train: /d, val: null}\n", "g2.yaml", lo);
  ASSERT_TRUE(r2.ok()) << r2.FormatAll();
  EXPECT_EQ(r2.spec->resources.tasks_per_node, 1);
}

}  // namespace
}  // namespace hpcai::slurm
