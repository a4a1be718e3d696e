#!/usr/bin/env bash
# Issue 4: `hpcai status` with 200 recorded runs (3 submitted here, 197
# recorded finished runs cloned from a real one): every run listed, a deleted
# run directory reported MISSING (not a crash), and exactly ONE batched Slurm
# query per call, proven from outside the process: with libslurm by counting
# connect() calls to slurmctld's port (strace); with HPCAI_SLURM_API=cli by
# counting Slurm command invocations through PATH wrappers.  No live run -> no query.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"

write_spec "$WORK/long.yaml" scale-live 60 0
write_spec "$WORK/short.yaml" scale-done 0 0
done_run="$(submit_id "$WORK/short.yaml")"
live1="$(submit_id "$WORK/long.yaml")"
live2="$(submit_id "$WORK/long.yaml")"
wait_state "$done_run" 90 COMPLETED

# 197 recorded finished runs: clones of the completed run, as hpcai records them.
$PY - "$WORK/runs" "$HPCAI_HOME/index" "$done_run" <<'PY'
import json, os, shutil, sys
runs, index, src = sys.argv[1:4]
for i in range(197):
    rid = "scale-old-20240101-%06d-%04x" % (i, i)
    d = os.path.join(runs, rid)
    shutil.copytree(os.path.join(runs, src), d)
    r = json.load(open(os.path.join(d, "run.json")))
    r["run_id"], r["name"], r["created"] = rid, "scale-old", "2024-01-01T00:00:%02dZ" % (i % 60)
    a = r["attempts"][-1]
    a["job_dir"] = d
    if i % 3 == 1:
        a["state"], a["exit"], a["reason"] = "FAILED", 3, "exit code 3"
    json.dump(r, open(os.path.join(d, "run.json"), "w"), indent=2)
    open(os.path.join(index, rid), "w").write(d + "\nscale-old\nrun\n")
PY
rm -rf "$WORK/runs/scale-old-20240101-000005-0005"   # deleted by hand

json="$("$H" status --all --json)"
echo "$json" | $PY -c '
import json, sys
d = json.load(sys.stdin)
runs = d["runs"]
states = {}
for r in runs: states[r["state"]] = states.get(r["state"], 0) + 1
assert len(runs) == 200, (len(runs), states)
assert sum(1 for r in runs if r["live"]) == 2, states
assert states.get("MISSING") == 1, states
assert states.get("FAILED") == 66, states
assert d["slurm_queries"] == 1, d["slurm_queries"]
m = [r for r in runs if r["state"] == "MISSING"][0]
assert m["run_id"] == "scale-old-20240101-000005-0005" and "deleted" in m["reason"], m
' || fail "status --all --json of 200 runs: $(echo "$json" | head -c 400)"
expect_eq "$("$H" status --all | wc -l)" 201 "table rows (+ header)"
set +e
"$H" logs scale-old-20240101-000005-0005 2> "$WORK/err"
rc=$?
set -e
expect_eq "$rc" 3 "logs of a missing run"
expect_contains "$(cat "$WORK/err")" "was deleted" "logs of a missing run"

# libslurm: one connection to slurmctld per call.
port="$(grep -i '^SlurmctldPort=' "$SLURM_CONF" | cut -d= -f2)"
count_connects() {
  strace -f -qq -e trace=connect -o "$WORK/strace" "$H" "$@" > /dev/null
  grep -c "sin_port=htons($port)" "$WORK/strace" || true
}
expect_eq "$(count_connects status --all)" 1 "slurmctld connections of 'status --all' (libslurm)"
expect_eq "$(count_connects status "$live1" "$live2" "$done_run")" 1 "slurmctld connections of 'status RUN RUN RUN'"
expect_eq "$(count_connects status "$done_run")" 0 "slurmctld connections when nothing is live"

# sbatch/squeue path: one squeue, nothing else.
mkdir -p "$WORK/wrap"
for c in squeue sbatch scontrol sacct scancel sinfo sstat; do
  printf '#!/bin/bash\necho %s >> "%s/calls"\nexec /usr/bin/%s "$@"\n' "$c" "$WORK" "$c" > "$WORK/wrap/$c"
  chmod +x "$WORK/wrap/$c"
done
: > "$WORK/calls"
HPCAI_SLURM_API=cli PATH="$WORK/wrap:$PATH" "$H" status --all --json > "$WORK/cli.json"
expect_eq "$(cat "$WORK/calls" | tr '\n' ' ')" "squeue " "Slurm commands run by 'status --all' (cli)"
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert len(d["runs"])==200 and d["slurm_queries"]==1' "$WORK/cli.json" \
  || fail "cli status result"
: > "$WORK/calls"
HPCAI_SLURM_API=cli PATH="$WORK/wrap:$PATH" "$H" status "$done_run" > /dev/null
expect_eq "$(cat "$WORK/calls")" "" "Slurm commands when nothing is live (cli)"
echo PASS
