#!/usr/bin/env bash
# Issue 4/7: requeues.  (a) `scontrol requeue` by hand: status shows the
# restart count and `hpcai logs` has both starts.  (b) A preemption exactly as
# Slurm delivers it (`scancel --signal=USR1 --batch`, what --signal=B:USR1@lead
# does): the script forwards it, the rank requeues its job and exits 75, the
# job comes back as restart 1 and completes.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"

wait_log() {  # run text timeout [attempt]
  local deadline=$((SECONDS + $3))
  until "$H" logs "$1" ${4:+--attempt $4} 2>/dev/null | grep -qF "$2"; do
    [ $SECONDS -lt $deadline ] || fail "$1: '$2' not in the log after $3 s"; sleep 0.2
  done
}
wait_restarts() {  # run n timeout
  local deadline=$((SECONDS + $3))
  until [ "$(field "$1" restarts)" = "$2" ]; do
    [ $SECONDS -lt $deadline ] || fail "$1: restarts $(field "$1" restarts), expected $2"; sleep 0.3
  done
}

# (a) requeue by hand
write_spec "$WORK/a.yaml" requeue-a 4 0
run="$(submit_id "$WORK/a.yaml")"
job="$(slurm_job_of "$run")"
wait_log "$run" "tiny-train rank 0 on" 60
scontrol requeue "$job"
wait_restarts "$run" 1 30
st="$(field "$run" state)"
case "$st" in PENDING|REQUEUED|COMPLETING) ;; *) fail "after requeue: state $st" ;; esac
wait_state_releasing "$run" "$job" 90 COMPLETED
expect_eq "$(field "$run" restarts)" 1 "restart count after one requeue"
list="$("$H" logs "$run" --list)"
expect_eq "$(echo "$list" | wc -l)" 2 "log segments: $list"
expect_contains "$("$H" logs "$run" --attempt 0)" "job $job restart 0" "first start's log"
expect_contains "$("$H" logs "$run" --attempt 0)" "got SIGTERM" "first start was stopped by the requeue"
expect_contains "$("$H" logs "$run" --attempt 1)" "job $job restart 1" "second start's log"
expect_contains "$("$H" logs "$run")" "step ended with exit code 0" "latest log is the second start"
expect_contains "$("$H" status "$run")" "COMPLETED" "table"

# (b) preemption signal -> forwarded -> the rank requeues itself -> restart 1 completes
write_spec "$WORK/b.yaml" requeue-b 6 0 "    TINY_REQUEUE: \"1\""
run="$(submit_id "$WORK/b.yaml")"
job="$(slurm_job_of "$run")"
# `hpcai logs -f` follows across the requeue and stops by itself at the final state.
"$H" logs "$run" -f > "$WORK/follow.out" 2> "$WORK/follow.err" &
follower=$!
wait_log "$run" "tiny-train rank 0 on" 60
scancel --signal=USR1 --batch "$job"
wait_log "$run" "requeued $job" 30 0
wait_restarts "$run" 1 30
wait_state_releasing "$run" "$job" 90 COMPLETED
deadline=$((SECONDS + 20))
while kill -0 "$follower" 2>/dev/null; do
  [ $SECONDS -lt $deadline ] || fail "logs -f did not stop after the job completed"; sleep 0.2
done
wait "$follower" || fail "logs -f exit code"
follow="$(cat "$WORK/follow.out")"
expect_contains "$follow" "tiny-train rank 0: got USR1" "logs -f: first start"
expect_contains "$follow" "==== hpcai: job $job restart 1 ====" "logs -f: moved to the restart"
expect_contains "$follow" "step ended with exit code 0" "logs -f: second start to the end"
expect_contains "$(cat "$WORK/follow.err")" "ended COMPLETED" "logs -f: final state"
e0="$(cat "$WORK/runs/$run/logs/exit-$job-0.json")"
e1="$(cat "$WORK/runs/$run/logs/exit-$job-1.json")"
expect_contains "$e0" '"exit":75' "first start ended checkpointed"
expect_contains "$e1" '"exit":0' "second start completed"
expect_contains "$("$H" logs "$run" --attempt 0)" "got SIGUSR1" "script got the batch signal"
expect_contains "$("$H" logs "$run" --attempt 0)" "step ended with exit code 75" "script waited for the step"
echo PASS
