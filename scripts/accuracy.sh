#!/usr/bin/env bash
# Accuracy check of hpcai-train on Fashion-MNIST (issue 6 targets), through
# the HDF5 reader with 2 ranks (mpirun, no Slurm needed):
#   MLP 784-256-128-10  : test accuracy >= 0.88 within 15 epochs
#   CNN 2x(conv3x3+relu+maxpool) + dense 128 : test accuracy >= 0.91
# Takes minutes (the CNN most of it); not part of ctest (CI runs the short
# MLP version, tests/integration/train_mlp_ci_test.sh).
#
#   scripts/accuracy.sh [--build DIR] [--np N] [--only mlp|cnn] [--work DIR] [--threads T]
# Prints one result line per model and exits 1 if a target is missed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$REPO/build"; NP=2; ONLY=""; WORK="${TMPDIR:-/tmp}/hpcai-accuracy"; THREADS=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --np) NP="$2"; shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    --work) WORK="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "accuracy.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
BIN="$BUILD/bin"
for b in hpcai hpcai-train; do
  [[ -x "$BIN/$b" ]] || { echo "accuracy.sh: $BIN/$b not built (cmake --build $BUILD)" >&2; exit 2; }
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$WORK"
DATA="$WORK/fmnist"
if [[ ! -f "$DATA/train/manifest.json" || ! -f "$DATA/test/manifest.json" ]]; then
  "$BIN/hpcai" data convert --from idx /usr/share/datasets/fashion-mnist --out "$DATA" --overwrite -q
fi
BIND=none; [[ $((NP * THREADS)) -le "$(nproc)" ]] && BIND=core
status=0

# run NAME TARGET EPOCHS MODEL_YAML OPTIMIZER_YAML
run() {
  local name="$1" target="$2" epochs="$3" model="$4" optimizer="$5"
  local dir="$WORK/run-$name"
  rm -rf "$dir"; mkdir -p "$dir"
  cat > "$dir/spec.yaml" <<SPEC
name: accuracy-$name
data: {train: $DATA/train, val: $DATA/test}
model: $model
optimizer: $optimizer
schedule: {type: cosine, warmup_steps: 200}
training: {epochs: $epochs, global_batch: 128, seed: 1, log_every: 200, eval_every: epoch}
checkpoint: {every_steps: 0, every_minutes: 0}
resources: {nodes: 1, tasks_per_node: $NP, cpus_per_task: $THREADS}
SPEC
  echo "== $name: $epochs epochs, $NP ranks x $THREADS threads (run dir $dir)"
  local t0=$SECONDS
  mpirun -np "$NP" --oversubscribe --bind-to "$BIND" --map-by "slot:PE=$THREADS" \
    "$BIN/hpcai-train" --run-dir "$dir" | tee "$dir/out.txt"
  local secs=$((SECONDS - t0))
  local best final
  read -r best final < <(/usr/bin/python3 - "$dir/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
acc = [e["val_acc"] for e in ev if e.get("type") == "eval"]
print(max(acc), acc[-1])
PY
)
  local ok=PASS
  /usr/bin/python3 -c "import sys; sys.exit(0 if $final >= $target else 1)" || { ok=FAIL; status=1; }
  echo "RESULT $name: final test accuracy $final (best epoch $best), target >= $target, $epochs epochs, ${secs}s wall: $ok"
}

if [[ -z "$ONLY" || "$ONLY" == mlp ]]; then
  run mlp 0.88 15 "{type: mlp, hidden: [256, 128]}" "{type: sgd, lr: 0.05, momentum: 0.9}"
fi
if [[ -z "$ONLY" || "$ONLY" == cnn ]]; then
  run cnn 0.91 12 "{type: cnn, conv: [{filters: 32}, {filters: 64}], hidden: [128]}" \
    "{type: sgd, lr: 0.05, momentum: 0.9}"
fi
exit $status
