#!/usr/bin/env bash
# Issue 7 (items 5-7, slurm side): the preemption signal as Slurm itself sends
# it, `lead_seconds` before the time limit (--signal=B:USR1@lead), reaches the
# job script, which forwards it to the step and waits for the step's own exit
# code; status shows the run PREEMPTED (checkpointed, exit 75), not FAILED.
# Slurm checks warn signals about every 30 s, so this test takes ~30 s.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"

write_spec "$WORK/lead.yaml" lead 55 0
sed -i -e 's/^  time: .*/  time: "1"/' -e 's/^  lead_seconds: .*/  lead_seconds: 50/' "$WORK/lead.yaml"
run="$(submit_id "$WORK/lead.yaml")"
grep -q '^#SBATCH --signal=B:USR1@50 ' "$WORK/runs/$run/job.sbatch" || fail "signal line"
wait_state "$run" 90 PREEMPTED
logs="$("$H" logs "$run")"
expect_contains "$logs" "got SIGUSR1" "the job script got Slurm's warning signal"
expect_contains "$logs" "tiny-train rank 0: got USR1" "the step got it forwarded"
expect_contains "$logs" "step ended with exit code 75" "the script waited for the step"
expect_eq "$(field "$run" exit_code)" 75 "exit code"
echo PASS
