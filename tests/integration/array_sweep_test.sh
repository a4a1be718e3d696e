#!/usr/bin/env bash
# Issue 4: a sweep is ONE Slurm job array (--array=0-2%P); each task has its
# own resolved spec and run directory under the sweep directory; status shows
# each task; cancel works on one task and on the whole sweep.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"

write_spec "$WORK/sweep.yaml" lrsweep 1 0 "sweep:" "  optimizer.lr: [0.1, 0.05, 0.01]" "  max_parallel: 2"
json="$("$H" submit "$WORK/sweep.yaml" --json)"
sweep="$(echo "$json" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["kind"]=="sweep" and len(d["tasks"])==3; print(d["run_id"])')" \
  || fail "sweep --json: $json"
array="$(echo "$json" | $PY -c 'import json,sys; print(json.load(sys.stdin)["job_id"])')"
grep -q '^#SBATCH --array=0-2%2' "$WORK/runs/$sweep/job.sbatch" || fail "array line missing"
grep -q "ArrayJobId=$array ArrayTaskId=" <<< "$(scontrol -o show job "$array")" || fail "Slurm does not see job $array as an array"
for i in 0 1 2; do
  wait_state "${sweep}_$i" 120 COMPLETED
  expect_eq "$(field "${sweep}_$i" job_id)" "${array}_$i" "task $i job id"
  tdir="$WORK/runs/$sweep/${sweep}_$i"
  [ -f "$tdir/spec.yaml" ] && [ -f "$tdir/run.json" ] || fail "task $i run dir incomplete"
  expect_contains "$("$H" logs "${sweep}_$i")" "job ${array}_$i restart 0" "task $i log"
  [ -f "$tdir/logs/exit-${array}_$i-0.json" ] || fail "task $i exit record"
done
grep -q 'lr: 0.1$' "$WORK/runs/$sweep/${sweep}_0/spec.yaml" || fail "task 0 spec: $(grep 'lr:' "$WORK/runs/$sweep/${sweep}_0/spec.yaml")"
grep -q 'lr: 0.01$' "$WORK/runs/$sweep/${sweep}_2/spec.yaml" || fail "task 2 spec"
! grep -q '^sweep:' "$WORK/runs/$sweep/${sweep}_1/spec.yaml" || fail "task spec still has the sweep"
table="$("$H" status "$sweep")"
expect_eq "$(echo "$table" | grep -c "${sweep}_")" 3 "status lists every task: $table"
expect_contains "$table" "3 tasks: 3 COMPLETED" "sweep summary"
# A task is found by its own name (the latest lrsweep-1).
expect_eq "$(field lrsweep-1 run_id)" "${sweep}_1" "task by name"

# Cancel one task, then the rest of the sweep.
write_spec "$WORK/long.yaml" longsweep 60 0 "sweep:" "  optimizer.lr: [0.1, 0.05, 0.01]"
sweep2="$(submit_id "$WORK/long.yaml")"
array2="$(field "$sweep2" job_id)"
wait_state "${sweep2}_1" 60 RUNNING PENDING
grep -q "cancelled job ${array2}_1" <<< "$("$H" cancel "${sweep2}_1")" || fail "task cancel output"
wait_state "${sweep2}_1" 60 CANCELLED
st0="$(field "${sweep2}_0" state)"
case "$st0" in RUNNING|PENDING) ;; *) fail "task 0 should still be live, is $st0" ;; esac
grep -q "cancelled array job $array2 (3 tasks)" <<< "$("$H" cancel "$sweep2")" || fail "sweep cancel output"
for i in 0 2; do wait_state "${sweep2}_$i" 60 CANCELLED; done
wait_state "$sweep2" 30 CANCELLED
echo PASS
