#!/usr/bin/env bash
# Issue 7: preemption by the time limit, exactly as Slurm does it, with real
# training (hpcai-train under mpirun, submitted by `hpcai submit`).
#  (a) resources.time 1 min, lead_seconds 50 -> #SBATCH --signal=B:USR1@50.
#      Slurm's timer checks warn signals every ~30 s, so each start gets the
#      signal 10-40 s after it began; the ranks checkpoint, rank 0 asks for a
#      requeue and all exit 75, the job script requeues the job, the next
#      start resumes from the checkpoint.  The work is sized from
#      calibration runs to ~120 s of CPU, more than two starts can hold, so
#      the run must complete over >= 2 requeues; every start after the first
#      resumes exactly where the one before stopped, and the final checkpoint
#      is at the last step.
#  (b) max_restarts reached: max_restarts 1, preempted twice: the second time
#      the run is not requeued and ends PREEMPTED, with the reason in
#      `hpcai status`; `hpcai resume` then completes it.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"
source "$(dirname "$0")/train_lib.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
train="$HPCAI_BIN_DIR/hpcai-train"
data="$(synth_data synth6k 6000 64 4)"
steps_per_epoch=94   # 6000 samples / global batch 64, last partial batch dropped

# spec FILE NAME EPOCHS TIME LEAD MAX_RESTARTS
spec() {
  cat > "$1" <<SPEC
name: $2
runs_root: $WORK/runs
launcher: mpirun
resources: {nodes: 1, tasks_per_node: 1, cpus_per_task: 1, mem: 500M, time: "$4"}
data: {train: $data, val: null}
model: {type: mlp, hidden: [1024, 1024]}
optimizer: {type: sgd, lr: 0.02, momentum: 0.9}
training: {epochs: $3, global_batch: 64, seed: 5, log_every: 200}
checkpoint: {every_steps: 0, every_minutes: 0, keep_last: 2, async: true}
preemption: {signal: USR1, lead_seconds: $5, requeue: true, max_restarts: $6}
SPEC
}

# Calibrate: CPU seconds per epoch of this model on one rank (CPU time, not
# wall time, so other tests running alongside do not shrink the job; the
# difference of a 1-epoch and a 4-epoch run removes start-up costs).
cpu_of() {  # epochs -> user+sys CPU seconds of one hpcai-train run
  rm -rf "$WORK/cal"; mkdir -p "$WORK/cal"
  spec "$WORK/cal/spec.yaml" cal "$1" "00:05:00" 30 0
  $PY - "$train" "$WORK/cal" > "$WORK/cal/cpu" <<'PY' || { cat "$WORK/cal/out.txt"; fail "calibration run failed"; }
import resource, subprocess, sys
with open(sys.argv[2] + "/out.txt", "w") as out:
    rc = subprocess.run([sys.argv[1], "--run-dir", sys.argv[2], "--quiet", "--threads", "1"],
                        stdout=out, stderr=subprocess.STDOUT).returncode
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)
sys.exit(rc)
PY
  cat "$WORK/cal/cpu"
}
c1="$(cpu_of 1)"
c4="$(cpu_of 4)"
[ -n "$c1" ] && [ -n "$c4" ] || fail "calibration failed"
epochs="$($PY -c "import math,sys; per=max(1e-3,(float(sys.argv[2])-float(sys.argv[1]))/3); print(max(40, math.ceil(120/per)))" "$c1" "$c4")"
total=$((epochs * steps_per_epoch))
echo "calibrated: 1 epoch $c1 s, 4 epochs $c4 s of CPU -> $epochs epochs ($total steps) for ~120 s of compute"

# (a) time limit + lead_seconds, several requeues, completes.
spec "$WORK/a.yaml" tl-a "$epochs" "00:01:00" 50 20
run="$(submit_id "$WORK/a.yaml")"
grep -q '^#SBATCH --signal=B:USR1@50 ' "$WORK/runs/$run/job.sbatch" || fail "signal line missing"
job="$(slurm_job_of "$run")"
# (b) starts alongside: a short run preempted by hand, max_restarts 1.
spec "$WORK/b.yaml" tl-b 20 "00:05:00" 30 1
runb="$(submit_id "$WORK/b.yaml")"
jobb="$(slurm_job_of "$runb")"

# (b) first preemption -> requeued as restart 1; second -> max_restarts reached.
preempt_b() {  # expected restart count after it
  local deadline=$((SECONDS + 120))
  until grep -q '"phase": "train"' "$WORK/runs/$runb/heartbeat.json" 2>/dev/null &&
        grep -q "\"restart\": $(( $1 - 1 ))" "$WORK/runs/$runb/heartbeat.json"; do
    release_held "$jobb"
    [ $SECONDS -lt $deadline ] || fail "run b did not start training (restart $(( $1 - 1 )))"
    sleep 0.3
  done
  scancel --signal=USR1 --batch "$jobb"
}
preempt_b 1
wait_restarts() {
  local deadline=$((SECONDS + 60))
  until [ "$(field "$runb" restarts)" = "$1" ]; do
    [ $SECONDS -lt $deadline ] || fail "run b: restarts $(field "$runb" restarts), expected $1"; sleep 0.3
  done
}
wait_restarts 1
preempt_b 2
wait_state_releasing "$runb" "$jobb" 90 PREEMPTED
table="$("$H" status "$runb")"
echo "$table"
expect_contains "$table" "max_restarts (1) reached; hpcai resume" "status names why run b stopped"
expect_eq "$(field "$runb" exit_code)" 75 "run b exit code"
expect_eq "$(field "$runb" restarts)" 1 "run b restarts"
expect_eq "$(field "$runb" progress.note)" "max_restarts (1) reached" "run b note in --json"
expect_contains "$("$H" logs "$runb")" "not requeued: preemption.max_restarts (1) reached" "run b log"
# `hpcai resume` continues it (a time limit long enough) to the end.
"$H" resume "$runb" --set resources.time=00:10:00 --follow > "$WORK/resume-b.txt" 2>&1 \
  || { cat "$WORK/resume-b.txt"; fail "resume of run b did not complete"; }
expect_eq "$(field "$runb" state)" COMPLETED "run b after resume"
"$H" ckpt list "$runb" --json | $PY -c '
import json, sys
c = json.load(sys.stdin)["checkpoints"]
assert c[-1]["latest"] and c[-1]["step"] == int(sys.argv[1]), c' "$((20 * steps_per_epoch))" \
  || fail "run b: no final checkpoint at step $((20 * steps_per_epoch))"

# (a): wait for it to complete (releasing each requeue's hold at once).
wait_state_releasing "$run" "$job" 600 COMPLETED
"$H" status "$run"
restarts="$(field "$run" restarts)"
echo "run a completed after $restarts requeues"
[ "$restarts" -ge 2 ] || fail "run a: only $restarts requeues (expected >= 2)"
# Every start but the last: Slurm's signal, a checkpoint, a requeue request,
# exit 75, then the job script's requeue (its last line);
# every start but the first resumed where the one before stopped.
prev_step=0
for i in $(seq 0 "$restarts"); do
  log="$("$H" logs "$run" --attempt "$i")"
  if [ "$i" -gt 0 ]; then
    expect_contains "$log" "ckpt-$prev_step.h5" "start $i resumes from the previous start's checkpoint"
  fi
  if [ "$i" -lt "$restarts" ]; then
    expect_contains "$log" "got SIGUSR1" "start $i: the job script got Slurm's signal"
    line="$(grep -o "preempted by SIGUSR1 after step [0-9]*: checkpoint written; requeue requested for job $job (restart $((i + 1)) of at most 20)" <<< "$log" || true)"
    [ -n "$line" ] || fail "start $i: no requeue request line in: $log"
    expect_contains "$log" "hpcai: step ended with exit code 75" "start $i: the step exited 75"
    expect_contains "$log" "hpcai: requeued job $job (restart $((i + 1)) of at most 20)" "start $i: the job script requeued the job"
    step="$(echo "$line" | grep -o 'after step [0-9]*' | grep -o '[0-9]*$')"
    [ "$step" -gt "$prev_step" ] || fail "start $i made no progress ($prev_step -> $step)"
    expect_contains "$(cat "$WORK/runs/$run/logs/exit-$job-$i.json")" '"exit":75' "start $i exit"
    prev_step=$step
  else
    expect_contains "$log" "hpcai-train: done: $total/$total steps" "the last start completes"
  fi
done
"$H" ckpt list "$run" --json | $PY -c '
import json, sys
c = json.load(sys.stdin)["checkpoints"]
assert all(x["valid"] for x in c) and c[-1]["latest"] and c[-1]["step"] == int(sys.argv[1]), c' "$total" \
  || fail "run a: no valid final checkpoint at step $total"
echo PASS
