#!/usr/bin/env bash
# Issue 7 (CLI side): `hpcai ckpt list|verify` and `hpcai resume` against real
# training jobs on the local Slurm cluster.
#   - a completed run lists its checkpoints; verify passes
#   - resume without more work is refused (exit 1, nothing submitted)
#   - resume --set training.epochs=+1 continues from the last step and completes
#   - a flipped byte in the latest checkpoint: verify exits 3, resume falls back
#   - resume --from an older checkpoint moves newer ones aside (nothing deleted)
#   - an override that changes the model is refused (exit 2)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
H="$HPCAI_BIN_DIR/hpcai"
work="$(mktemp -d "$TEST_TMP/resume.XXXXXX")"
export HPCAI_HOME="$work/home"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$work"
"$H" data synth --samples 1024 --features 16 --classes 4 --out data/smoke/train --seed 3 -q
"$H" data synth --samples 256 --features 16 --classes 4 --out data/smoke/val --seed 3 -q
cp "$HPCAI_SOURCE_DIR/configs/examples/smoke.yaml" spec.yaml

"$H" submit spec.yaml --backend slurm --set runs_root="$work/runs" --set training.epochs=2 \
     --set checkpoint.every_steps=4 --set checkpoint.keep_last=5 --follow > submit.log 2>&1 \
  || { cat submit.log; fail "first run did not complete"; }
run="$("$H" status --json | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["runs"][0]["run_id"])')"
[ -n "$run" ] || fail "no run id"

# ckpt list: valid checkpoints, the last at the final step, LATEST marked.
"$H" ckpt list "$run" --json > list.json
/usr/bin/python3 - <<'PY' || fail "ckpt list --json wrong: $(cat list.json)"
import json
d = json.load(open("list.json"))
c = d["checkpoints"]
assert len(c) >= 2, c
assert all(x["valid"] for x in c), c
assert c[-1]["latest"] and c[-1]["step"] == 32 and c[-1]["epoch"] == 2, c[-1]
PY
"$H" ckpt verify "$run" > verify.txt || fail "verify of a good run failed: $(cat verify.txt)"
grep -q "resume would continue from .*ckpt-32.h5" verify.txt || fail "verify did not name the resume point"

# Nothing left to train: refused, no new attempt.
if "$H" resume "$run" > r0.txt 2>&1; then fail "resume without more epochs should be refused"; fi
grep -q "nothing left to train" r0.txt || fail "unexpected refusal: $(cat r0.txt)"
rundir="$work/runs/$run"
[ "$(/usr/bin/python3 -c "import json; print(len(json.load(open('$rundir/run.json'))['attempts']))")" = 1 ] \
  || fail "a refused resume added an attempt"

# Changing the model is refused before anything happens.
set +e; "$H" resume "$run" --set model.hidden=[8] --set training.epochs=+1 > r1.txt 2>&1; rc=$?; set -e
[ "$rc" = 2 ] || fail "model change: exit $rc, expected 2: $(cat r1.txt)"

# +1 epoch: continues from step 32 to 48 and completes; spec history kept.
"$H" resume "$run" --set training.epochs=+1 --follow > r2.txt 2>&1 || { cat r2.txt; fail "resume did not complete"; }
grep -q "from ckpt-32.h5 (step 32, epoch 2 of 3)" r2.txt || fail "resume did not start at step 32: $(head -3 r2.txt)"
"$H" ckpt list "$run" --json | /usr/bin/python3 -c '
import json,sys; c=json.load(sys.stdin)["checkpoints"]; assert c[-1]["step"] == 48 and c[-1]["latest"], c' \
  || fail "no checkpoint at step 48 after resume"
[ -f "$rundir/spec.attempt-1.yaml" ] || fail "previous spec not kept"
grep -q "epochs: 3" "$rundir/spec.yaml" || fail "spec.yaml not updated"

# Corrupt the latest checkpoint: verify exits 3 and names it; resume falls back to the previous one.
latest="$rundir/checkpoints/ckpt-48.h5"
/usr/bin/python3 - "$latest" <<'PY'
import sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 0xFF
open(p, "wb").write(bytes(b))
PY
set +e; "$H" ckpt verify "$run" > v2.txt 2>&1; rc=$?; set -e
[ "$rc" = 3 ] || fail "verify of a corrupt checkpoint exited $rc, expected 3"
grep -q "CORRUPT: .*ckpt-48.h5" v2.txt || fail "verify did not name the corrupt file: $(cat v2.txt)"
"$H" resume "$run" --set training.epochs=+1 --follow > r3.txt 2>&1 || { cat r3.txt; fail "fallback resume failed"; }
grep -q "warning: .*ckpt-48.h5" r3.txt || fail "no warning about the corrupt checkpoint: $(head -5 r3.txt)"
grep -q "from ckpt-44.h5 (step 44" r3.txt || fail "did not fall back to ckpt-44: $(head -5 r3.txt)"

# --from a pruned checkpoint is NotFound (exit 3) and changes nothing.
set +e; "$H" resume "$run" --from ckpt-4.h5 --set training.epochs=+1 > r5.txt 2>&1; rc=$?; set -e
[ "$rc" = 3 ] && grep -q "no such checkpoint" r5.txt || fail "--from missing: exit $rc: $(cat r5.txt)"
# --from an older checkpoint: newer ones are moved aside, not deleted.
"$H" resume "$run" --from ckpt-56.h5 --json > r4.json 2>r4.err || { cat r4.err; fail "--from failed"; }
moved="$(/usr/bin/python3 -c 'import json; print(json.load(open("r4.json"))["superseded_dir"])')"
[ -d "$moved" ] && [ -e "$moved/ckpt-64.h5" ] || fail "newer checkpoints not kept in $moved"
grep -q '^ckpt-56.h5$' "$rundir/checkpoints/LATEST" || fail "LATEST does not name ckpt-56.h5"
echo "PASS"
