#!/usr/bin/env bash
# Issues 6/7: a real SIGUSR1 sent to mpirun (which forwards it to both ranks)
# in the middle of training -> the ranks agree at a step boundary, write a
# checkpoint and exit 75 ("not requeued": no Slurm here); the next start
# resumes from it and ends with checkpoint tensors (params, AdamW moments,
# every rank's RNG with dropout on) and metrics bitwise equal to an
# uninterrupted run.  Runs hpcai-train under mpirun -np 2 (no Slurm needed).
# Sized (wide MLP, 8 epochs: seconds, not milliseconds) so the signal lands
# mid-run however idle the machine.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/train_lib.sh"
train="$HPCAI_BIN_DIR/hpcai-train"
[ -x "$train" ] || fail "hpcai-train not built at $train"
data="$(synth_data synth6k 6000 64 4)"
base="$(mktemp -d "$TEST_TMP/train-resume.XXXXXX")"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
for d in ref sig; do
  mkdir -p "$base/$d"
  cat > "$base/$d/spec.yaml" <<SPEC
name: resume-$d
data: {train: $data, val: $data}
model: {type: mlp, hidden: [512, 256], dropout: 0.1}
optimizer: {type: adamw, lr: 0.002, weight_decay: 0.01}
schedule: {type: cosine, warmup_steps: 20}
training: {epochs: 8, global_batch: 64, seed: 3, log_every: 10, eval_every: "100"}
checkpoint: {every_steps: 50, every_minutes: 0, keep_last: 2, async: true}
SPEC
done
total=$((94 * 8))
mpirun -np 2 "$train" --run-dir "$base/ref" --quiet || fail "reference run failed"

set +e
mpirun -np 2 "$train" --run-dir "$base/sig" --quiet > "$base/sig/out1.txt" 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ "$(heartbeat_step "$base/sig")" -ge 60 ] && break
  sleep 0.05
done
kill -USR1 "$pid"
wait "$pid"
rc=$?
set -e
cat "$base/sig/out1.txt"
[ "$rc" = 75 ] || fail "interrupted run exited $rc, expected 75"
grep -q 'preempted by SIGUSR1 after step [0-9]*: checkpoint written; not requeued' "$base/sig/out1.txt" \
  || fail "no preemption line"
stopped="$(grep -o 'after step [0-9]*' "$base/sig/out1.txt" | grep -o '[0-9]*')"
[ "$stopped" -lt "$total" ] || fail "the signal came too late (step $stopped)"
grep -q '"phase": "preempted"' "$base/sig/heartbeat.json" || fail "heartbeat not 'preempted'"

mpirun -np 2 "$train" --run-dir "$base/sig" --quiet > "$base/sig/out2.txt" 2>&1 || { cat "$base/sig/out2.txt"; fail "resumed run failed"; }
cat "$base/sig/out2.txt"
grep -q "resuming from .*ckpt-$stopped.h5 (step $stopped" "$base/sig/out2.txt" || fail "did not resume from step $stopped"
same_checkpoint "$base/ref/checkpoints/ckpt-$total.h5" "$base/sig/checkpoints/ckpt-$total.h5" || fail "final checkpoints differ"
diff <(det_metrics "$base/ref") <(det_metrics "$base/sig") || fail "metrics differ"
grep -q '"type":"resume"' "$base/sig/metrics.jsonl" || fail "no resume line in metrics.jsonl"
echo "PASS (interrupted after step $stopped)"
