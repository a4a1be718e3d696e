#!/usr/bin/env bash
# Issue 4/7: requeues.  (a) `scontrol requeue` by hand: status shows the
# restart count and `hpcai logs` has both starts.  (b) A preemption exactly as
# Slurm delivers it (`scancel --signal=USR1 --batch`, what --signal=B:USR1@lead
# does): the script forwards it, the rank asks for a requeue
# (logs/requeue-<job>-<restart>.json) and exits 75, then the job script
# records the exit and requeues the job as its last action; the job comes back
# as restart 1 and completes.  (c) The same with a `scontrol` that refuses:
# the run ends PREEMPTED and `hpcai status` says why.
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
wait_log "$run" "hpcai: requeued job $job (restart 1 of at most 5)" 30 0
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
log0="$("$H" logs "$run" --attempt 0)"
expect_contains "$log0" "step ended with exit code 75" "script waited for the step"
expect_contains "$log0" "tiny-train rank 0: requeue requested for job $job" "the rank asked for the requeue"
# Order in the log: the rank's request, the step's end, then the requeue (the last action).
line_of() { grep -n -m1 -F "$1" <<< "$2" | cut -d: -f1 || true; }
l_req="$(line_of "requeue requested for job" "$log0")"
l_end="$(line_of "step ended with exit code 75" "$log0")"
l_rq="$(line_of "hpcai: requeued job $job" "$log0")"
[ -n "$l_req" ] && [ -n "$l_end" ] && [ -n "$l_rq" ] && [ "$l_req" -lt "$l_end" ] && [ "$l_end" -lt "$l_rq" ] \
  || fail "log order (request $l_req, step end $l_end, requeue $l_rq) in: $log0"

# (c) the job script's `scontrol requeue` fails: no requeue, the reason in status
mkdir -p "$WORK/fakebin"
printf '#!/bin/sh\necho "scontrol: error: refused by the test ($*)" >&2\nexit 1\n' > "$WORK/fakebin/scontrol"
chmod +x "$WORK/fakebin/scontrol"
write_spec "$WORK/c.yaml" requeue-c 6 0 "    TINY_REQUEUE: \"1\"" "  setup:" "    - \"export PATH=$WORK/fakebin:\$PATH\""
run="$(submit_id "$WORK/c.yaml")"
job="$(slurm_job_of "$run")"
wait_log "$run" "tiny-train rank 0 on" 60
scancel --signal=USR1 --batch "$job"
wait_state "$run" 60 PREEMPTED
log="$("$H" logs "$run")"
expect_contains "$log" "hpcai: requeue of job $job failed (scontrol exit 1): scontrol: error: refused by the test (requeue $job)" "log names the failure"
expect_contains "$log" "continue with \`hpcai resume $WORK/runs/$run\`" "log gives the hint"
expect_contains "$(cat "$WORK/runs/$run/logs/exit-$job-0.json")" '"exit":75,' "exit record"
expect_contains "$(cat "$WORK/runs/$run/logs/exit-$job-0.json")" '"requeue":"failed (scontrol exit 1)"' "exit record names the failed requeue"
expect_eq "$(field "$run" restarts)" 0 "no restart after a failed requeue"
expect_eq "$(field "$run" progress.note)" "requeue failed (scontrol exit 1)" "note in --json"
expect_contains "$("$H" status "$run")" "requeue failed (scontrol exit 1); hpcai resume" "status names why"
echo PASS
