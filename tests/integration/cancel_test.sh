#!/usr/bin/env bash
# Issue 4: `hpcai cancel` -> CANCELLED, recorded in run.json; `--signal USR1`
# reaches the job script (Slurm batch-shell delivery, as --signal=B: does),
# which forwards it to the step: the rank exits 75 and the run shows
# PREEMPTED (checkpointed, resumable).  Cancelling a finished run is a no-op.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"

write_spec "$WORK/long.yaml" cancelme 60 0
run="$(submit_id "$WORK/long.yaml")"
wait_state "$run" 60 RUNNING
out="$("$H" cancel "$run")"
expect_contains "$out" "cancelled job $(slurm_job_of "$run")" "cancel output"
wait_state "$run" 60 CANCELLED
expect_contains "$(field "$run" reason)" "cancelled with \`hpcai cancel\`" "cancel reason"
$PY - "$WORK/runs/$run/run.json" <<'PY' || fail "cancel not recorded in run.json"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r["cancels"]) == 1 and r["cancels"][0]["signal"] == "" and r["cancels"][0]["job_id"], r
assert r["attempts"][-1]["state"] == "CANCELLED", r
PY
# Cancelling again: nothing to do, not an error.
expect_contains "$("$H" cancel "$run")" "already ended (CANCELLED)" "second cancel"

# --signal USR1: batch script -> trap -> srun -> rank.
write_spec "$WORK/sig.yaml" signalme 60 0
run2="$(submit_id "$WORK/sig.yaml")"
wait_state "$run2" 60 RUNNING
# The rank must be up (its trap installed) before the signal is sent.
deadline=$((SECONDS + 30))
until "$H" logs "$run2" | grep -q "tiny-train rank 0 on"; do
  [ $SECONDS -lt $deadline ] || fail "rank never started"; sleep 0.2
done
grep -q "sent SIGUSR1 to job" <<< "$("$H" cancel "$run2" --signal USR1)" || fail "cancel --signal output"
wait_state "$run2" 60 PREEMPTED
expect_eq "$(field "$run2" exit_code)" 75 "exit code after USR1"
expect_contains "$(field "$run2" reason)" "hpcai resume" "PREEMPTED reason"
logs="$("$H" logs "$run2")"
expect_contains "$logs" "got SIGUSR1" "the job script received USR1"
expect_contains "$logs" "tiny-train rank 0: got USR1" "the rank received the forwarded USR1"
expect_contains "$logs" "step ended with exit code 75" "the script waited for the step's own exit code"

# Unknown runs are reported, not crashed on.
set +e
"$H" cancel no-such-run-anywhere 2> "$WORK/err"
rc=$?
set -e
expect_eq "$rc" 3 "exit code for an unknown run"
expect_contains "$(cat "$WORK/err")" "no run matches 'no-such-run-anywhere'" "unknown run message"
echo PASS
