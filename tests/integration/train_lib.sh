# Helpers for the training integration tests (sourced after lib.sh).

# fmnist_data -> prints the directory holding train/ and test/ (Fashion-MNIST
# from the Debian package, converted once per build and shared by the tests).
fmnist_data() {
  local dir="$TEST_TMP/fmnist"
  (
    flock 9
    if [ ! -f "$dir/test/manifest.json" ] || [ ! -f "$dir/train/manifest.json" ]; then
      "$HPCAI_BIN_DIR/hpcai" data convert --from idx /usr/share/datasets/fashion-mnist --out "$dir" \
        --overwrite -q >&2 || exit 1
    fi
  ) 9>"$TEST_TMP/fmnist.lock" || fail "could not convert Fashion-MNIST into $dir"
  echo "$dir"
}

# last_eval RUN_DIR -> "val_acc val_loss step" of the last eval line of metrics.jsonl
last_eval() {
  /usr/bin/python3 - "$1/metrics.jsonl" <<'PY'
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
ev = [e for e in ev if e.get("type") == "eval"]
if not ev:
    sys.exit("no eval line in " + sys.argv[1])
e = ev[-1]
print(e["val_acc"], e["val_loss"], e["step"])
PY
}

# same_checkpoint A.h5 B.h5 -> exit 0 when every tensor and the RNG states are
# bitwise equal (prints the tensor count), 1 with the first difference.
same_checkpoint() {
  /usr/bin/python3 - "$1" "$2" <<'PY'
import sys
import h5py, numpy as np
def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[...]) if isinstance(o, h5py.Dataset) else None)
    return out
a, b = datasets(sys.argv[1]), datasets(sys.argv[2])
tensors = [k for k in a if k.startswith("tensors/")]
if not tensors or sorted(a) != sorted(b):
    sys.exit("different datasets: %s vs %s" % (sorted(a), sorted(b)))
for k in sorted(a):
    if a[k].tobytes() != b[k].tobytes():
        sys.exit("dataset %s differs" % k)
print("%d tensors bitwise equal" % len(tensors))
PY
}

# det_metrics RUN_DIR -> the train/eval lines of metrics.jsonl without wall-clock fields
det_metrics() {
  /usr/bin/python3 - "$1/metrics.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    j = json.loads(line)
    if j.get("type") not in ("train", "eval"):
        continue
    for k in ("samples_per_sec", "data_s", "compute_s", "comm_s", "time_ms", "eval_s"):
        j.pop(k, None)
    print(json.dumps(j, sort_keys=True))
PY
}

# synth_data NAME SAMPLES FEATURES CLASSES -> directory of a synthetic dataset (made once)
synth_data() {
  local dir="$TEST_TMP/$1"
  (
    flock 9
    [ -f "$dir/manifest.json" ] || "$HPCAI_BIN_DIR/hpcai" data synth --samples "$2" --features "$3" --classes "$4" \
      --out "$dir" --overwrite -q >&2 || exit 1
  ) 9>"$TEST_TMP/$1.lock" || fail "could not make synthetic data $dir"
  echo "$dir"
}

# heartbeat_step RUN_DIR -> the step in heartbeat.json (0 when absent)
heartbeat_step() {
  local s
  s="$(grep -o '"step": [0-9]*' "$1/heartbeat.json" 2>/dev/null | grep -o '[0-9]*$' || true)"
  echo "${s:-0}"
}
