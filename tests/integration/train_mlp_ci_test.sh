#!/usr/bin/env bash
# Issue 6 (CI accuracy): hpcai-train on Fashion-MNIST through the HDF5
# reader, MLP, 2 ranks under the local Slurm (sbatch + mpirun in the
# allocation), 2 epochs -> test accuracy >= 0.84; exit 0, metrics.jsonl and
# heartbeat.json written, final summary line printed.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/train_lib.sh"
train="$HPCAI_BIN_DIR/hpcai-train"
[ -x "$train" ] || fail "hpcai-train not built at $train"
data="$(fmnist_data)"
run="$(mktemp -d "$TEST_TMP/train-ci.XXXXXX")"
cat > "$run/spec.yaml" <<SPEC
name: ci-mlp
data: {train: $data/train, val: $data/test}
model: {type: mlp, hidden: [256, 128]}
optimizer: {type: sgd, lr: 0.05, momentum: 0.9}
schedule: {type: cosine, warmup_steps: 100}
training: {epochs: 2, global_batch: 128, seed: 1, log_every: 100, eval_every: epoch}
checkpoint: {every_steps: 0, every_minutes: 0}
resources: {nodes: 1, tasks_per_node: 2, cpus_per_task: 1}
SPEC
cat > "$run/job.sh" <<JOB
#!/bin/bash
#SBATCH -N 1 --ntasks=2 --cpus-per-task=1 --time=5 -o $run/out-%j.txt
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun -np 2 "$train" --run-dir "$run"
echo "exit=\$?"
JOB
jid="$(sbatch --parsable "$run/job.sh")"
state="$(wait_job_final "$jid" 300)"
cat "$run/out-$jid.txt"
[ "$state" = COMPLETED ] || fail "job $jid ended $state"
grep -q '^exit=0$' "$run/out-$jid.txt" || fail "hpcai-train did not exit 0"
grep -q '^hpcai-train: done: ' "$run/out-$jid.txt" || fail "no final summary line"
read -r acc loss step < <(last_eval "$run")
echo "test accuracy $acc (loss $loss) after $step steps"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$acc') >= 0.84 else 1)" || fail "accuracy $acc < 0.84"
grep -q '"phase": "done"' "$run/heartbeat.json" || fail "heartbeat not done: $(cat "$run/heartbeat.json")"
grep -q '"world_size": 2' "$run/heartbeat.json" || fail "heartbeat world_size is not 2"
[ "$(grep -c '"type":"train"' "$run/metrics.jsonl")" -ge 9 ] || fail "too few train lines in metrics.jsonl"
echo "PASS"
