#!/usr/bin/env bash
# Status benchmark: `hpcai status --all` over 1,000 recorded runs of which 50
# are live Slurm jobs (50 real submissions + 950 finished runs recorded as
# hpcai records them), against one plain `squeue` of all jobs (the query
# alone) in the same run.  Also counts the Slurm queries per call from
# outside the process: connect() calls to slurmctld's port (strace, libslurm)
# and Slurm command invocations through PATH wrappers (HPCAI_SLURM_API=cli).
#
#   scripts/bench-status.sh [--runs N] [--live L] [--total T] [--build DIR] [--port-base P]
# Uses $SLURM_CONF when set, else starts a private 2-node cluster (stopped at the end).
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$REPO/scripts/bench-lib.sh"
RUNS=10
LIVE=50
TOTAL=1000
BUILD="$REPO/build"
PORT=19837
bench_parse_args "bench-status.sh: unknown argument '%s' (see --help)" 2,11 \
  "--runs=RUNS --live=LIVE --total=TOTAL --build=BUILD --port-base=PORT" "$@"
H="$BUILD/bin/hpcai"
PY=/usr/bin/python3
[[ -x "$H" ]] || { echo "bench-status.sh: $H missing; build first" >&2; exit 2; }
bench_slurm_setup "$BUILD" "$PORT" benchstatus hpcai-bench-status
printf '#!/bin/bash\nexec sleep 900\n' > "$WORK/sleeper"
chmod +x "$WORK/sleeper"
cat > "$WORK/spec.yaml" <<YAML
name: benchstatus
runs_root: $WORK/runs
train_binary: $WORK/sleeper
resources: {nodes: 1, tasks_per_node: 1, mem: 10M, time: "30"}
preemption: {lead_seconds: 30}
YAML
echo "bench-status: submitting $LIVE live jobs and recording $((TOTAL - LIVE)) finished runs" >&2
for i in $(seq 1 "$LIVE"); do "$H" submit "$WORK/spec.yaml" --no-data > /dev/null; done
first="$(ls "$WORK/runs" | head -1)"
$PY - "$WORK/runs" "$HPCAI_HOME/index" "$first" "$((TOTAL - LIVE))" <<'PY'
import json, os, shutil, sys
runs, index, src, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
for i in range(n):
    rid = "benchold-20240101-%06d-%04x" % (i, i % 65536)
    d = os.path.join(runs, rid)
    shutil.copytree(os.path.join(runs, src), d)
    r = json.load(open(os.path.join(d, "run.json")))
    r["run_id"], r["name"], r["created"] = rid, "benchold", "2024-01-01T00:00:00Z"
    a = r["attempts"][-1]
    a.update(job_dir=d, state="COMPLETED" if i % 4 else "FAILED", exit=0 if i % 4 else 1, ended="2024-01-01T01:00:00Z")
    json.dump(r, open(os.path.join(d, "run.json"), "w"), indent=2)
    with open(os.path.join(d, "heartbeat.json"), "w") as f:
        json.dump({"step": 100, "total_steps": 100, "epoch": 2, "epochs": 2, "loss": 0.3, "lr": 0.1,
                   "samples_per_sec": 1000.0, "eta_seconds": 0, "val_accuracy": 0.88, "phase": "done",
                   "job_id": a["job_id"], "restart": 0, "world_size": 2, "updated_at": 0}, f)
    open(os.path.join(index, rid), "w").write(d + "\nbenchold\nrun\n")
PY

FMT="JobArrayID:|,State:|,Reason:|,NumNodes:|,NodeList:|,TimeUsed:|,TimeLimit:|,RestartCnt:|,exit_code:|,WorkDir:|"
"$H" status --all > /dev/null   # warm-up; caches nothing new (finished states are recorded)
: > "$WORK/t_table"; : > "$WORK/t_json"; : > "$WORK/t_cli"; : > "$WORK/t_squeue"
for i in $(seq 1 "$RUNS"); do
  t0=$(now_ns); "$H" status --all > /dev/null; t1=$(now_ns)
  "$H" status --all --json > /dev/null; t2=$(now_ns)
  HPCAI_SLURM_API=cli "$H" status --all > /dev/null; t3=$(now_ns)
  squeue -h -r -t all -O "$FMT" > /dev/null; t4=$(now_ns)
  echo $((t1 - t0)) >> "$WORK/t_table"; echo $((t2 - t1)) >> "$WORK/t_json"
  echo $((t3 - t2)) >> "$WORK/t_cli"; echo $((t4 - t3)) >> "$WORK/t_squeue"
done
# Queries per call, counted outside the process.
port="$(grep -i '^SlurmctldPort=' "$SLURM_CONF" | cut -d= -f2)"
strace -f -qq -e trace=connect -o "$WORK/strace" "$H" status --all > /dev/null
lib_q="$(grep -c "sin_port=htons($port)" "$WORK/strace" || true)"
mkdir -p "$WORK/wrap"
for c in squeue sbatch scontrol sacct scancel sinfo; do
  printf '#!/bin/bash\necho %s >> "%s/calls"\nexec /usr/bin/%s "$@"\n' "$c" "$WORK" "$c" > "$WORK/wrap/$c"
  chmod +x "$WORK/wrap/$c"
done
: > "$WORK/calls"
HPCAI_SLURM_API=cli PATH="$WORK/wrap:$PATH" "$H" status --all > /dev/null
cli_q="$(wc -l < "$WORK/calls")"
rows="$("$H" status --all --json | $PY -c 'import json,sys; d=json.load(sys.stdin); print(len(d["runs"]), sum(r["live"] for r in d["runs"]), d["slurm_queries"])')"

sq=$(median < "$WORK/t_squeue")
echo "# bench-status: $(date -u +%Y-%m-%dT%H:%M:%SZ) host $(hostname) cores $(nproc) load $(cut -d' ' -f1-3 /proc/loadavg) runs $RUNS"
echo "# recorded runs / live / queries reported: $rows"
echo
echo "| what ($TOTAL runs, $LIVE live) | median wall (ms) | vs one squeue |"
echo "|---|---|---|"
echo "| one \`squeue -h -r -t all -O ...\` (the query alone, reference) | $(ms "$sq") | 1.00 |"
for k in table:"\`hpcai status --all\` (libslurm)" json:"\`hpcai status --all --json\` (libslurm)" cli:"\`hpcai status --all\` (HPCAI_SLURM_API=cli)"; do
  f="${k%%:*}"; label="${k#*:}"; v=$(median < "$WORK/t_$f")
  echo "| $label | $(ms "$v") | $(awk "BEGIN { printf \"%.2f\", $v / $sq }") |"
done
echo
echo "Slurm queries per \`hpcai status --all\`: libslurm $lib_q connection(s) to slurmctld (strace); cli $cli_q command(s): $(tr '\n' ' ' < "$WORK/calls")"
