#!/usr/bin/env bash
# Issue 4: `hpcai logs RUN --rank N` against real 2-rank training jobs
# (configs/examples/smoke.yaml, mpirun) on the local Slurm cluster.
#   - every rank writes logs/rank-<r>-<job>-<restart>.log; --rank 1 shows the
#     line only rank 1 prints, --rank 0 rank 0's progress and summary, while
#     the job log keeps rank 0's output exactly as before
#   - --rank 2 of a 2-rank run: exit 2 naming 0..1; --rank with --stderr: exit 2
#   - --rank N --list: the rank's file per start
#   - a job whose ranks have not started yet (setup still sleeping) and a
#     PENDING job: non-zero exit saying so
#   - --rank 1 -f follows the rank's file until the job ends
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$WORK"
"$H" data synth --samples 512 --features 16 --classes 4 --out data/smoke/train --seed 3 -q
"$H" data synth --samples 128 --features 16 --classes 4 --out data/smoke/val --seed 3 -q
cp "$HPCAI_SOURCE_DIR/configs/examples/smoke.yaml" spec.yaml

# 1. A completed 2-rank run.
"$H" submit spec.yaml --backend slurm --set runs_root="$WORK/runs" --follow > submit.log 2>&1 \
  || { cat submit.log; fail "the smoke run did not complete"; }
run="$(field smoke run_id)"
job="$(field "$run" job_id)"
rundir="$WORK/runs/$run"
[ -f "$rundir/logs/rank-0-$job-0.log" ] && [ -f "$rundir/logs/rank-1-$job-0.log" ] \
  || fail "no rank logs: $(ls "$rundir/logs")"

r1="$("$H" logs "$run" --rank 1)" || fail "logs --rank 1 exit $?"
expect_contains "$r1" "hpcai-train rank 1 of 2 on " "rank 1's start line"
expect_contains "$r1" "job $job restart 0" "rank 1's start line names the job"
grep -q "hpcai-train: done:" <<< "$r1" && fail "rank 1's log has rank 0's summary: $r1"
r0="$("$H" logs "$run" --rank 0)" || fail "logs --rank 0 exit $?"
expect_contains "$r0" "hpcai-train rank 0 of 2 on " "rank 0's start line"
expect_contains "$r0" "step 8/8" "rank 0's progress lines"
expect_contains "$r0" "hpcai-train: done: 8/8 steps" "rank 0's summary"
# The job log is what it was: rank 0's lines, and no rank file start lines.
joblog="$("$H" logs "$run")"
expect_contains "$joblog" "hpcai-train: done: 8/8 steps" "job log keeps rank 0's summary"
grep -q "hpcai-train rank . of 2" <<< "$joblog" && fail "rank start lines leaked into the job log"
# -n applies to the rank log.
expect_eq "$("$H" logs "$run" --rank 0 -n 1 | grep -c .)" 1 "--rank 0 -n 1 line count"
expect_contains "$("$H" logs "$run" --rank 0 -n 1)" "hpcai-train: done:" "--rank 0 -n 1 is the last line"
expect_contains "$("$H" logs "$run" --rank 1 --attempt 0)" "hpcai-train rank 1 of 2" "--rank 1 --attempt 0"

set +e
out="$("$H" logs "$run" --rank 2 2>&1)"; rc=$?
set -e
expect_eq "$rc" 2 "--rank 2 of a 2-rank run: exit code"
expect_contains "$out" "has 2 ranks (0..1)" "--rank 2 names the valid range"
set +e; out="$("$H" logs "$run" --rank 1 --stderr 2>&1)"; rc=$?; set -e
expect_eq "$rc" 2 "--rank with --stderr: exit code"
expect_contains "$out" "drop --stderr" "--rank with --stderr message"
list="$("$H" logs "$run" --rank 1 --list)"
expect_contains "$list" "job $job restart 0  rank 1  $rundir/logs/rank-1-$job-0.log" "--rank 1 --list"

# 2. A running job whose ranks have not started yet (setup sleeps), and a
#    PENDING job that needs both nodes exclusively meanwhile.
"$H" submit spec.yaml --backend slurm --set runs_root="$WORK/runs" --set name=slow \
     --set 'environment.setup=["sleep 8"]' --json > slow.json || fail "submit slow: $(cat slow.json)"
slow="$(field slow run_id)"
deadline=$((SECONDS + 60))
until "$H" logs "$slow" 2>/dev/null | grep -q "restart 0 on"; do
  [ $SECONDS -lt $deadline ] || fail "the slow job did not start"; sleep 0.2
done
set +e; out="$("$H" logs "$slow" --rank 1 2>&1)"; rc=$?; set -e
[ "$rc" != 0 ] || fail "--rank 1 before the rank started: exit 0: $out"
expect_contains "$out" "rank 1 has no log" "not started yet: message"
expect_contains "$out" "has not started" "not started yet: message"
"$H" logs "$slow" --rank 1 -f > follow.out 2> follow.err &
follower=$!

"$H" submit spec.yaml --backend slurm --set runs_root="$WORK/runs" --set name=wide \
     --set resources.nodes=2 --set resources.exclusive=true --json > wide.json || fail "submit wide: $(cat wide.json)"
wide="$(field wide run_id)"
expect_eq "$(field "$wide" state)" PENDING "the exclusive 2-node job waits for the slow one"
set +e; out="$("$H" logs "$wide" --rank 0 2>&1)"; rc=$?; set -e
expect_eq "$rc" 1 "--rank 0 of a PENDING run: exit code"
expect_contains "$out" "the job has not started (PENDING" "PENDING: message"
expect_contains "$out" "--rank 0 -f\` waits for it" "PENDING: hint"
"$H" cancel "$wide" > /dev/null

# 3. The follower ends with the job and saw rank 1's file.
deadline=$((SECONDS + 120))
while kill -0 "$follower" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || { kill "$follower"; fail "logs --rank 1 -f did not stop after the job ended"; }
  sleep 0.3
done
wait "$follower" || fail "logs --rank 1 -f exit code"
expect_contains "$(cat follow.out)" "hpcai-train rank 1 of 2 on " "-f --rank 1 followed the rank's file"
expect_contains "$(cat follow.err)" "ended COMPLETED" "-f --rank 1 reports the end"
echo "PASS"
