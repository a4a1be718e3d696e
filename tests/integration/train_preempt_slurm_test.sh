#!/usr/bin/env bash
# Issue 7 (preemption inside a Slurm job): `scancel --signal=USR1 --batch` on a
# running 2-rank training job -> the job script forwards the signal to mpirun,
# the ranks agree at a step boundary, checkpoint, rank 0 asks for a requeue
# (logs/requeue-<job>-<restart>.json), all exit 75; the job script, once the
# step has exited, runs `scontrol requeue` (as hpcai's job.sbatch does: a
# requeue while the ranks run would stop them, and could lose their last log
# lines, before they exit); Slurm starts the job again
# (SLURM_RESTART_COUNT=1, made eligible at once with StartTime=now); the new
# attempt resumes from the checkpoint and completes with a final checkpoint
# bitwise equal to an uninterrupted run's.
# The job is sized (wide MLP, 30 epochs: seconds, not milliseconds) so the
# signal always lands mid-run, however idle the machine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/train_lib.sh"
train="$HPCAI_BIN_DIR/hpcai-train"
[ -x "$train" ] || fail "hpcai-train not built at $train"
data="$(synth_data synth6k 6000 64 4)"
base="$(mktemp -d "$TEST_TMP/train-preempt.XXXXXX")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for d in ref job; do
  mkdir -p "$base/$d"
  cat > "$base/$d/spec.yaml" <<SPEC
name: preempt-$d
data: {train: $data, val: null}
model: {type: mlp, hidden: [512, 256], dropout: 0.1}
optimizer: {type: sgd, lr: 0.05, momentum: 0.9, nesterov: true}
schedule: {type: cosine, warmup_steps: 20}
training: {epochs: 30, global_batch: 64, seed: 5, log_every: 25}
checkpoint: {every_steps: 200, every_minutes: 0, keep_last: 2, async: true}
preemption: {signal: USR1, requeue: true, max_restarts: 3}
SPEC
done
total=$((94 * 30))
mpirun -np 2 "$train" --run-dir "$base/ref" --quiet || fail "reference run failed"

run="$base/job"
cat > "$run/job.sh" <<JOB
#!/bin/bash
#SBATCH -N 1 --ntasks=2 --cpus-per-task=1 --time=5 --requeue --open-mode=append -o $run/out.txt
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "attempt restart=\${SLURM_RESTART_COUNT:-0}"
mpirun -np 2 "$train" --run-dir "$run" --quiet &
pid=\$!
trap 'kill -USR1 \$pid' USR1
wait \$pid; rc=\$?
if [ \$rc -gt 128 ]; then wait \$pid; rc=\$?; fi
echo "exit=\$rc"
if [ \$rc = 75 ] && [ -f "$run/logs/requeue-\$SLURM_JOB_ID-\${SLURM_RESTART_COUNT:-0}.json" ]; then
  trap '' USR1 TERM  # Slurm stops the job once it is requeued
  scontrol requeue "\$SLURM_JOB_ID" && echo "requeued job \$SLURM_JOB_ID by the job script"
fi
exit \$rc
JOB
jid="$(sbatch --parsable "$run/job.sh")"
for _ in $(seq 1 1200); do
  [ "$(heartbeat_step "$run")" -ge 60 ] && break
  sleep 0.1
done
[ "$(heartbeat_step "$run")" -ge 60 ] || { cat "$run/out.txt"; fail "job $jid did not start training"; }
scancel --signal=USR1 --batch "$jid"
# Requeued: the job goes back to PENDING (held by BeginTime for cred_expire): release it.
state=
for _ in $(seq 1 600); do
  state="$(scontrol -o show job "$jid" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)"
  restarts="$(scontrol -o show job "$jid" 2>/dev/null | grep -o 'Restarts=[0-9]*' | cut -d= -f2 || true)"
  case "$state" in
    PENDING) [ "${restarts:-0}" -ge 1 ] && break ;;
    COMPLETED|FAILED|CANCELLED|TIMEOUT) break ;;
  esac
  sleep 0.1
done
[ "$state" = PENDING ] || { cat "$run/out.txt"; fail "job $jid was not requeued (state $state)"; }
state="$(wait_job_final_releasing "$jid" 300)"
cat "$run/out.txt"
[ "$state" = COMPLETED ] || fail "job $jid ended $state"
line_of() { grep -n -m1 -e "$1" "$run/out.txt" | cut -d: -f1 || true; }
l_req="$(line_of "preempted by SIGUSR1 after step [0-9]*: checkpoint written; requeue requested for job $jid (restart 1 of at most 3)$")"
l_exit="$(line_of '^exit=75$')"
l_rq="$(line_of "^requeued job $jid by the job script$")"
[ -n "$l_req" ] || fail "no requeue request line"
[ -n "$l_exit" ] || fail "the first attempt did not exit 75"
[ -n "$l_rq" ] || fail "no requeue line"
[ "$l_req" -lt "$l_exit" ] && [ "$l_exit" -lt "$l_rq" ] || fail "order: request $l_req, exit $l_exit, requeue $l_rq"
grep -q '^attempt restart=1$' "$run/out.txt" || fail "no second attempt with SLURM_RESTART_COUNT=1"
grep -q "resuming from .*ckpt-[0-9]*.h5" "$run/out.txt" || fail "second attempt did not resume"
grep -q "^hpcai-train: done: $total/$total steps" "$run/out.txt" || fail "no completion line"
same_checkpoint "$base/ref/checkpoints/ckpt-$total.h5" "$run/checkpoints/ckpt-$total.h5" || fail "final checkpoints differ"
diff <(det_metrics "$base/ref") <(det_metrics "$run") || fail "metrics differ"
grep -q '"restart": 1' "$run/heartbeat.json" || fail "heartbeat does not show restart 1"
echo "PASS"
