#!/usr/bin/env bash
# Issue 4: 20 concurrent `hpcai submit` processes (same experiment name, same
# second) produce 20 intact runs: distinct run ids claimed with mkdir, 20 index
# entries, every run.json complete with its own Slurm job id.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"

write_spec "$WORK/spec.yaml" crowd 30 0
pids=()
for i in $(seq 1 20); do
  "$H" submit "$WORK/spec.yaml" --json > "$WORK/out.$i" 2> "$WORK/err.$i" &
  pids+=($!)
done
for i in "${!pids[@]}"; do
  wait "${pids[$i]}" || fail "submit $((i + 1)) failed: $(cat "$WORK/err.$((i + 1))")"
done
$PY - "$WORK" <<'PY' || fail "concurrent submissions are not 20 intact runs"
import json, os, sys
work = sys.argv[1]
outs = [json.load(open(os.path.join(work, "out.%d" % i))) for i in range(1, 21)]
ids = {o["run_id"] for o in outs}
jobs = {o["job_id"] for o in outs}
assert len(ids) == 20, ids
assert len(jobs) == 20 and all(j.isdigit() for j in jobs), jobs
index = os.listdir(os.path.join(work, "home", "index"))
assert sorted(index) == sorted(ids), (index, ids)
for o in outs:
    d = o["run_dir"]
    r = json.load(open(os.path.join(d, "run.json")))
    assert r["run_id"] == o["run_id"] and r["attempts"][-1]["job_id"] == o["job_id"], r
    for f in ("spec.yaml", "job.sbatch"):
        assert os.path.getsize(os.path.join(d, f)) > 0, (d, f)
    assert not [f for f in os.listdir(d) if ".tmp." in f], os.listdir(d)
PY
json="$("$H" status --all --json)"
echo "$json" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["runs"]) == 20, len(d["runs"])
assert all(r["state"] in ("PENDING", "RUNNING", "COMPLETING") for r in d["runs"]), [r["state"] for r in d["runs"]]
assert d["slurm_queries"] == 1' || fail "status after concurrent submissions"
echo PASS
