#!/usr/bin/env bash
# Issue 4: the local backend runs the same job script without Slurm (detached,
# own process group, ranks via mpirun) and status/logs/cancel/--follow behave
# as with Slurm; `auto` picks local without a Slurm configuration and slurm
# with one.  Local runs never query Slurm.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"
conf="$SLURM_CONF"
unset SLURM_CONF

write_spec "$WORK/ok.yaml" loc 1 0
sed -i 's/^  tasks_per_node: 1/  tasks_per_node: 2/' "$WORK/ok.yaml"
write_spec "$WORK/bad.yaml" locfail 0 4
write_spec "$WORK/long.yaml" loclong 60 0

# auto -> local here; auto -> slurm when Slurm is configured.
expect_contains "$("$H" submit "$WORK/ok.yaml" --dry-run)" "backend      local" "auto without Slurm"
expect_contains "$(SLURM_CONF="$conf" "$H" submit "$WORK/ok.yaml" --dry-run)" "backend      slurm" "auto with Slurm"

json="$("$H" submit "$WORK/ok.yaml" --json)"
run="$(echo "$json" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["backend"]=="local" and d["api"]=="process" and d["job_id"].startswith("local-"); print(d["run_id"])')" \
  || fail "local --json: $json"
wait_state "$run" 60 COMPLETED
logs="$("$H" logs "$run")"
expect_contains "$logs" "tiny-train rank 0 on" "rank 0 ran"
expect_contains "$logs" "tiny-train rank 1 on" "rank 1 ran (mpirun -np 2)"
expect_contains "$logs" "step ended with exit code 0" "exit record"
expect_eq "$(field "$run" exit_code)" 0 "exit code"

set +e
"$H" submit "$WORK/bad.yaml" --follow > "$WORK/follow.out" 2>&1
rc=$?
set -e
expect_eq "$rc" 4 "local --follow exit code"
expect_eq "$(field locfail state)" FAILED "local failing run"

# cancel: the whole job ends (script, mpirun and the ranks in their own process groups).
run="$(submit_id "$WORK/long.yaml")"
wait_state "$run" 30 RUNNING
deadline=$((SECONDS + 30))
until "$H" logs "$run" | grep -q "tiny-train rank 0 on"; do [ $SECONDS -lt $deadline ] || fail "rank never started"; sleep 0.2; done
grep -q "cancelled job local-" <<< "$("$H" cancel "$run")" || fail "local cancel output"
wait_state "$run" 30 CANCELLED
left="$(ps -eo stat=,args= | grep -F "$WORK/runs/$run" | grep -v '^Z' | grep -v grep || true)"
[ -z "$left" ] || fail "processes of the cancelled job remain: $left"

# --signal USR1 reaches the rank through the script's trap and mpirun.
run="$(submit_id "$WORK/long.yaml")"
deadline=$((SECONDS + 30))
until "$H" logs "$run" | grep -q "tiny-train rank 0 on"; do [ $SECONDS -lt $deadline ] || fail "rank never started"; sleep 0.2; done
"$H" cancel "$run" --signal USR1 > /dev/null
wait_state "$run" 30 PREEMPTED
expect_contains "$("$H" logs "$run")" "tiny-train rank 0: got USR1" "USR1 forwarded to the rank"

# A local sweep: tasks one at a time (max_parallel 1), each in its own run dir.
write_spec "$WORK/sweep.yaml" locsweep 0 0 "sweep:" "  optimizer.lr: [0.1, 0.2]" "  max_parallel: 1"
sweep="$(submit_id "$WORK/sweep.yaml")"
for i in 0 1; do wait_state "${sweep}_$i" 60 COMPLETED; done
expect_contains "$("$H" logs "${sweep}_1")" "step ended with exit code 0" "sweep task log"
expect_contains "$("$H" status "$sweep")" "2 tasks: 2 COMPLETED" "sweep summary"
# Cancelling a local sweep stops the running task and the ones not started.
write_spec "$WORK/sweep2.yaml" locsweep2 60 0 "sweep:" "  optimizer.lr: [0.1, 0.2, 0.3]" "  max_parallel: 1"
sweep="$(submit_id "$WORK/sweep2.yaml")"
wait_state "${sweep}_0" 30 RUNNING
expect_eq "$(field "${sweep}_2" state)" PENDING "a task waiting for its slot"
"$H" cancel "$sweep" > /dev/null
for i in 0 1 2; do wait_state "${sweep}_$i" 30 CANCELLED; done

# No Slurm query for local runs, even when Slurm is configured.
expect_eq "$(SLURM_CONF="$conf" "$H" status --all --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["slurm_queries"])')" 0 "queries for local runs"
echo PASS
