#!/usr/bin/env bash
# Submission benchmark: wall time of `hpcai submit` (spec parse + render +
# run directory with fsync'ed files + libslurm RPC) vs plain `sbatch` of the
# SAME rendered job.sbatch, in one run; also `hpcai --version` and `sbatch
# --version` (process start-up only) and hpcai's sbatch-command path.
# Phase 1 (the figure) alternates sbatch and hpcai submit only, in a new
# random order each round; phase 2 times the rest against sbatch again.
# Times come from bash's $EPOCHREALTIME (no fork inside the timed span).  Reports
# medians and fastest runs (ms) and their ratios to sbatch as a markdown table
# (docs/slurm.md), and how long one file creation takes in the runs root
# before and after (journal-less ext4 slows it for minutes after mass
# deletions; hpcai submit creates 7 files, sbatch none).
#
#   scripts/bench-submit.sh [--runs N] [--build DIR] [--port-base P] [--runs-root DIR]
#                           [--after-deletions N]
# --runs-root: where the runs (and the run index) go; kept afterwards
#   (default BUILD/bench-submit-runs, so one benchmark run does not measure the
#   file system still reacting to the previous one's clean-up).
# --after-deletions N: first create and delete N files and directories (run-
#   like: a directory, logs/, three files) next to the runs, as `rm -rf` of
#   old runs would, then measure at once (default 0).
# Uses $SLURM_CONF when set, else starts a private 2-node cluster (stopped at
# the end) whose nodes are drained, so the submitted jobs stay pending.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$REPO/scripts/bench-lib.sh"
RUNS=40
BUILD="$REPO/build"
PORT=19837
RUNS_ROOT=""
DELETIONS=0
bench_parse_args "bench-submit.sh: unknown argument '%s' (see --help)" 2,22 \
  "--runs=RUNS --build=BUILD --port-base=PORT --runs-root=RUNS_ROOT --after-deletions=DELETIONS" "$@"
[[ "$DELETIONS" =~ ^[0-9]+$ ]] || { echo "bench-submit.sh: --after-deletions needs a number, got '$DELETIONS'" >&2; exit 2; }
[[ "$RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "bench-submit.sh: --runs needs a positive number, got '$RUNS'" >&2; exit 2; }
H="$BUILD/bin/hpcai"
[[ -x "$H" ]] || { echo "bench-submit.sh: $H missing; build first (cmake --build build --target hpcai)" >&2; exit 2; }
bench_slurm_setup "$BUILD" "$PORT" benchsubmit hpcai-bench-submit
# On the private cluster the nodes are drained: the jobs are accepted and stay
# PENDING, so what is timed is the submission, not job launches competing for
# the same cores (each launch starts slurmstepd, the script and its step).
# A cluster given by $SLURM_CONF is left alone.
DRAINED=0
if [[ -n "$BENCH_STARTED" ]]; then
  nodes="$(sinfo -h -o %N | head -1)"
  scontrol update NodeName="$nodes" State=DRAIN Reason=bench-submit && DRAINED=1
  # Cancel the pending jobs and put the nodes back in service before the
  # cluster stops (its saved state keeps the drain; local-slurm.sh start lifts
  # one left behind anyway).
  trap 'scancel --name=benchsubmit >/dev/null 2>&1 || true
        scontrol update NodeName="$nodes" State=RESUME >/dev/null 2>&1 || true
        bench_slurm_cleanup' EXIT
fi
RUNS_ROOT="${RUNS_ROOT:-$BUILD/bench-submit-runs}"
mkdir -p "$RUNS_ROOT"
RUNS_ROOT="$(cd "$RUNS_ROOT" && pwd)"
# The index goes to the same file system as the runs.
export HPCAI_HOME="$RUNS_ROOT/.bench-hpcai-home"
# The spec is written with a quoted here-document: the path goes in through
# hpcai's own --set, never through the shell.
cat > "$WORK/spec.yaml" <<'YAML'
name: benchsubmit
train_binary: /bin/true
resources: {nodes: 1, tasks_per_node: 1, mem: 10M, time: "5"}
preemption: {lead_seconds: 30}
YAML
SET=(--set "runs_root=$RUNS_ROOT")

# File-system probe: microseconds per file creation in the runs root (median of
# 50 creations of empty files, then removed).  Settled file systems take
# 10-30 us here; journal-less ext4 takes several times longer for minutes after
# many deletions (its inode allocator skips every recently freed inode).
fs_probe() {
  local d="$RUNS_ROOT/.bench-probe.$$" i a b t=()
  mkdir "$d"
  for i in $(seq 1 50); do
    stamp a; : > "$d/f$i"; stamp b
    t+=($((b - a)))
  done
  rm -rf "$d"
  printf '%s\n' "${t[@]}" | median
}
FS_DEV="$(findmnt -n -o SOURCE --target "$RUNS_ROOT" 2>/dev/null || echo '?')"
FS_TYPE="$(findmnt -n -o FSTYPE --target "$RUNS_ROOT" 2>/dev/null || echo '?')"
FS_NOTE="$FS_TYPE"
if [[ "$FS_TYPE" == ext4 && -r "/sys/fs/ext4/$(basename "$FS_DEV")/journal_task" ]]; then
  if [[ "$(cat "/sys/fs/ext4/$(basename "$FS_DEV")/journal_task")" == "<none>" ]]; then
    FS_NOTE="ext4 without a journal"
  else
    FS_NOTE="ext4 with a journal"
  fi
fi
if (( DELETIONS > 0 )); then
  # Run-like directories in the runs root itself (a directory, its logs/ and
  # three files: five inodes each), then all removed at once.
  for i in $(seq 1 $(( (DELETIONS + 4) / 5 ))); do
    d="$RUNS_ROOT/.bench-deleted.$$.$i"
    mkdir -p "$d/logs"
    : > "$d/spec.yaml"; : > "$d/job.sbatch"; : > "$d/run.json"
  done
  rm -rf "$RUNS_ROOT"/.bench-deleted.$$.*
fi
PROBE_BEFORE="$(fs_probe)"

# Warm-up (page cache, munge, controller).
"$H" submit "$WORK/spec.yaml" "${SET[@]}" --no-data --json > "$WORK/warm.json"
script="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_dir"])' "$WORK/warm.json")/job.sbatch"
sbatch --parsable "$script" > /dev/null

run_kind() {
  case "$1" in
    sbatch|sbatch_b) sbatch --parsable "$script" > /dev/null ;;
    hpcai) "$H" submit "$WORK/spec.yaml" "${SET[@]}" --no-data > /dev/null ;;
    hpcai_cli) HPCAI_SLURM_API=cli "$H" submit "$WORK/spec.yaml" "${SET[@]}" --no-data > /dev/null ;;
    version) "$H" --version > /dev/null ;;
    sbatch_version) sbatch --version > /dev/null ;;
  esac
}
# rounds KIND...: RUNS rounds, the kinds in a new random order each round;
# each command's wall time (us) is appended to $WORK/<kind>.
rounds() {
  local i k t0 t1
  for i in $(seq 1 "$RUNS"); do
    for k in $(printf '%s\n' "$@" | shuf); do
      stamp t0; run_kind "$k"; stamp t1
      echo $((t1 - t0)) >> "$WORK/$k"
    done
  done
}
KINDS=(sbatch hpcai sbatch_b hpcai_cli version sbatch_version)
for k in "${KINDS[@]}"; do : > "$WORK/$k"; done
# Phase 1, the figure: sbatch and hpcai submit, nothing else in between.
rounds sbatch hpcai
# Phase 2, context: hpcai's sbatch-command path (each of its submissions also
# runs sbatch, and loads the controller more) and the start-up of both
# programs, against sbatch again.
rounds sbatch_b hpcai_cli version sbatch_version
PROBE_AFTER="$(fs_probe)"

declare -A MED BEST
for k in "${KINDS[@]}"; do
  MED[$k]=$(median < "$WORK/$k")
  BEST[$k]=$(sort -n "$WORK/$k" | head -1)
done
us_ms() { awk "BEGIN { printf \"%.2f\", $1 / 1000 }"; }
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
echo "# bench-submit: $(date -u +%Y-%m-%dT%H:%M:%SZ) host $(hostname) cores $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg) runs $RUNS$([[ $DRAINED = 1 ]] && echo ', nodes drained (jobs stay pending)')"
echo "# runs root $RUNS_ROOT on $FS_DEV ($FS_NOTE)$( (( DELETIONS > 0 )) && echo ", measured right after creating and deleting $DELETIONS files and directories there"); one file creation there: ${PROBE_BEFORE} us before, ${PROBE_AFTER} us after"
echo
echo "| what | median wall (ms) | vs sbatch | fastest (ms) | vs sbatch's fastest |"
echo "|---|---|---|---|---|"
# row KIND LABEL REFERENCE_KIND
row() {
  echo "| $2 | $(us_ms "${MED[$1]}") | $(ratio "${MED[$1]}" "${MED[$3]}") | $(us_ms "${BEST[$1]}") | $(ratio "${BEST[$1]}" "${BEST[$3]}") |"
}
row sbatch "\`sbatch --parsable job.sbatch\` (reference)" sbatch
row hpcai "**\`hpcai submit\` (libslurm)**" sbatch
row sbatch_b "\`sbatch --parsable job.sbatch\` (reference, phase 2)" sbatch_b
row hpcai_cli "\`hpcai submit\` (HPCAI_SLURM_API=cli: runs sbatch)" sbatch_b
row version "\`hpcai --version\` (process start-up only)" sbatch_b
row sbatch_version "\`sbatch --version\` (process start-up only)" sbatch_b
echo
minus() { awk "BEGIN { printf \"%.2f\", ($1 - $2) / 1000 }"; }
echo "hpcai submit minus its start-up: $(minus "${MED[hpcai]}" "${MED[version]}") ms; sbatch minus its start-up: $(minus "${MED[sbatch]}" "${MED[sbatch_version]}") ms"
