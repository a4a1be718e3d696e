#!/usr/bin/env bash
# Submission benchmark: wall time of `hpcai submit` (spec parse + render +
# run directory with fsync'ed files + libslurm RPC) vs plain `sbatch` of the
# SAME rendered job.sbatch, alternating in one run; also `hpcai --version`
# (the process start-up floor) and the sbatch/squeue command path of hpcai.
# Reports medians (ms) and ratios as a markdown table (docs/slurm.md).
#
#   scripts/bench-submit.sh [--runs N] [--build DIR] [--port-base P]
# Uses $SLURM_CONF when set, else starts a private 2-node cluster (stopped at the end)
# whose nodes are drained, so the submitted jobs stay pending instead of launching.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$REPO/scripts/bench-lib.sh"
RUNS=20
BUILD="$REPO/build"
PORT=19837
bench_parse_args "bench-submit.sh: unknown argument '%s' (see --help)" 2,10 \
  "--runs=RUNS --build=BUILD --port-base=PORT" "$@"
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
cat > "$WORK/spec.yaml" <<YAML
name: benchsubmit
runs_root: $WORK/runs
train_binary: /bin/true
resources: {nodes: 1, tasks_per_node: 1, mem: 10M, time: "5"}
preemption: {lead_seconds: 30}
YAML

: > "$WORK/hpcai"; : > "$WORK/hpcai_cli"; : > "$WORK/sbatch"; : > "$WORK/version"; : > "$WORK/sbatch_version"
# Warm-up (page cache, munge, controller).
"$H" submit "$WORK/spec.yaml" --no-data --json > "$WORK/warm.json"
script="$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["run_dir"])' "$WORK/warm.json")/job.sbatch"
sbatch --parsable "$script" > /dev/null
for i in $(seq 1 "$RUNS"); do
  t0=$(now_ns); "$H" submit "$WORK/spec.yaml" --no-data > /dev/null; t1=$(now_ns)
  sbatch --parsable "$script" > /dev/null; t2=$(now_ns)
  HPCAI_SLURM_API=cli "$H" submit "$WORK/spec.yaml" --no-data > /dev/null; t3=$(now_ns)
  "$H" --version > /dev/null; t4=$(now_ns)
  sbatch --version > /dev/null; t5=$(now_ns)
  echo $((t1 - t0)) >> "$WORK/hpcai"; echo $((t2 - t1)) >> "$WORK/sbatch"; echo $((t3 - t2)) >> "$WORK/hpcai_cli"
  echo $((t4 - t3)) >> "$WORK/version"; echo $((t5 - t4)) >> "$WORK/sbatch_version"
done
h=$(median < "$WORK/hpcai"); s=$(median < "$WORK/sbatch"); c=$(median < "$WORK/hpcai_cli")
v=$(median < "$WORK/version"); sv=$(median < "$WORK/sbatch_version")
echo "# bench-submit: $(date -u +%Y-%m-%dT%H:%M:%SZ) host $(hostname) cores $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg) runs $RUNS$([[ $DRAINED = 1 ]] && echo ', nodes drained (jobs stay pending)')"
echo
# Fastest run of each (the cost without interference: every submission also
# starts a job, whose launch competes for the same two cores).
best() { sort -n | head -1; }
hb=$(best < "$WORK/hpcai"); sb=$(best < "$WORK/sbatch"); cb=$(best < "$WORK/hpcai_cli")
vb=$(best < "$WORK/version"); svb=$(best < "$WORK/sbatch_version")
ratio() { awk "BEGIN { printf \"%.2f\", $1 / $2 }"; }
echo "| what | median wall (ms) | vs sbatch | fastest (ms) | vs sbatch's fastest |"
echo "|---|---|---|---|---|"
echo "| \`sbatch --parsable job.sbatch\` (reference) | $(ms "$s") | 1.00 | $(ms "$sb") | 1.00 |"
echo "| \`hpcai submit\` (libslurm) | $(ms "$h") | $(ratio "$h" "$s") | $(ms "$hb") | $(ratio "$hb" "$sb") |"
echo "| \`hpcai submit\` (HPCAI_SLURM_API=cli: runs sbatch) | $(ms "$c") | $(ratio "$c" "$s") | $(ms "$cb") | $(ratio "$cb" "$sb") |"
echo "| \`hpcai --version\` (process start-up only) | $(ms "$v") | $(ratio "$v" "$s") | $(ms "$vb") | $(ratio "$vb" "$sb") |"
echo "| \`sbatch --version\` (process start-up only) | $(ms "$sv") | $(ratio "$sv" "$s") | $(ms "$svb") | $(ratio "$svb" "$sb") |"
echo
echo "hpcai submit minus its start-up: $(ms "$(awk "BEGIN { print $h - $v }")") ms; sbatch minus its start-up: $(ms "$(awk "BEGIN { print $s - $sv }")") ms"
