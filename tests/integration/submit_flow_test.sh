#!/usr/bin/env bash
# Issue 4: `hpcai submit` against the real cluster: --dry-run creates nothing;
# submit -> PENDING/RUNNING -> COMPLETED with readable logs; a failing job is
# FAILED with its exit code and `submit --follow` exits with it; the libslurm
# and sbatch paths submit the same job (scontrol fields compared); --json.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"

write_spec "$WORK/ok.yaml" flow 1 0
write_spec "$WORK/bad.yaml" flowfail 0 3

# --dry-run: script and summary, nothing created.
out="$("$H" submit "$WORK/ok.yaml" --dry-run)"
expect_contains "$out" "#SBATCH --job-name=flow" "dry-run script"
expect_contains "$out" "resources    1 node(s) x 1 rank(s)" "dry-run summary"
[ ! -e "$WORK/runs" ] || fail "--dry-run created $WORK/runs"
[ ! -e "$HPCAI_HOME" ] || fail "--dry-run created $HPCAI_HOME"

# --json of a real submission.
json="$("$H" submit "$WORK/ok.yaml" --json)"
run="$(echo "$json" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["job_id"].isdigit() and d["backend"]=="slurm"; print(d["run_id"])')" \
  || fail "bad --json: $json"
[ "$(echo "$json" | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_dir"])')" = "$WORK/runs/$run" ] || fail "run_dir"
st="$(field "$run" state)"
case "$st" in PENDING|RUNNING|COMPLETING|COMPLETED) ;; *) fail "fresh run in state $st" ;; esac
wait_state "$run" 90 COMPLETED
expect_eq "$(field "$run" exit_code)" 0 "exit code of a completed run"
logs="$("$H" logs "$run")"
expect_contains "$logs" "tiny-train rank 0 on" "stdout log"
expect_contains "$logs" "step ended with exit code 0" "stdout log"
expect_contains "$("$H" logs "$run" --stderr)" "tiny-train rank 0 stderr line" "stderr log"
for f in spec.yaml job.sbatch run.json logs/exit-$(field "$run" job_id)-0.json; do
  [ -f "$WORK/runs/$run/$f" ] || fail "run dir lacks $f"
done
# A run is found by name (its latest run) and by unique prefix.
expect_eq "$(field flow run_id)" "$run" "status by name"
expect_eq "$(field "${run%????}" run_id)" "$run" "status by id prefix"

# A failing job: FAILED with its exit code; --follow exits with it.
set +e
"$H" submit "$WORK/bad.yaml" --follow > "$WORK/follow.out" 2> "$WORK/follow.err"
rc=$?
set -e
expect_eq "$rc" 3 "submit --follow exit code for a job that exits 3"
expect_contains "$(cat "$WORK/follow.out")" "tiny-train rank 0 done, exit 3" "--follow streamed the log"
expect_contains "$(cat "$WORK/follow.err")" "ended FAILED (exit 3)" "--follow final line"
expect_eq "$(field flowfail state)" FAILED "state of a failing job"
expect_eq "$(field flowfail exit_code)" 3 "exit code of a failing job"

# libslurm and sbatch submit the same job.
a="$(submit_id "$WORK/ok.yaml" --set resources.nodes=2)"
b="$(HPCAI_SLURM_API=cli submit_id "$WORK/ok.yaml" --set resources.nodes=2)"
ja="$(slurm_job_of "$a")"; jb="$(HPCAI_SLURM_API=cli slurm_job_of "$b")"
norm() {  # job, run -> the fields that describe the request, with ids normalised
  scontrol -o show job "$1" | tr ' ' '\n' | grep -E '^(JobName|Requeue|TimeLimit|Partition|NumNodes|NumTasks|CPUs/Task|MinMemoryNode|StdOut|StdErr|WorkDir|Command|NtasksPerN:B:S:C|OverSubscribe)=' \
    | sed -e "s#$2#RUN#g" -e "s#slurm-$1#slurm-JOB#g"
}
diff <(norm "$ja" "$a") <(norm "$jb" "$b") || fail "libslurm and sbatch submissions differ"
[ "$(norm "$ja" "$a" | wc -l)" -ge 12 ] || fail "scontrol fields missing: $(norm "$ja" "$a")"
expect_contains "$(norm "$ja" "$a")" "NumNodes=2" "nodes requested"
# Status through the CLI path sees the same states.
wait_state "$a" 90 COMPLETED
HPCAI_SLURM_API=cli wait_state "$b" 90 COMPLETED
echo PASS
