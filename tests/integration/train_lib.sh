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
