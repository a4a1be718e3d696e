#!/usr/bin/env bash
# Issue 4: a submission Slurm refuses (unknown partition, impossible memory)
# exits 5 with Slurm's own message and a hint, and leaves a run recorded as
# SUBMIT_FAILED, never a live-looking one (both API paths).  A configured but
# unreachable Slurm is an error with a hint (exit 5), never a local fallback.
set -euo pipefail
source "$(dirname "$0")/hpcai_lib.sh"

write_spec "$WORK/nopart.yaml" refused 0 0 "resources_placeholder: 1"
sed -i '/resources_placeholder/d' "$WORK/nopart.yaml"
sed -i 's/^  time: .*/&\n  partition: nosuchpartition/' "$WORK/nopart.yaml"

for api in lib cli; do
  set +e
  HPCAI_SLURM_API=$api "$H" submit "$WORK/nopart.yaml" > "$WORK/out" 2> "$WORK/err"
  rc=$?
  set -e
  expect_eq "$rc" 5 "exit code of a refused submission ($api)"
  err="$(cat "$WORK/err")"
  expect_contains "$err" "Invalid partition name specified" "Slurm's own message ($api)"
  expect_contains "$err" "hint: list the partitions with \`sinfo -s\`" "hint ($api)"
  expect_contains "$err" "SUBMIT_FAILED" "recorded ($api)"
done
json="$("$H" status refused --json)"
echo "$json" | $PY -c '
import json, sys
d = json.load(sys.stdin)
assert len(d["runs"]) == 1, d
r = d["runs"][0]
assert r["state"] == "SUBMIT_FAILED", r
assert r["live"] is False and r["job_id"] is None, r
assert "Invalid partition" in r["reason"], r
assert d["slurm_queries"] == 0, d' || fail "refused run not recorded as SUBMIT_FAILED: $json"
expect_eq "$(ls "$WORK/runs" | wc -l)" 2 "one run dir per refused attempt"
expect_contains "$("$H" status --all)" "SUBMIT_FAILED" "status table"

# A request no node can satisfy.
write_spec "$WORK/huge.yaml" huge 0 0
sed -i 's/^  mem: .*/  mem: 100000G/' "$WORK/huge.yaml"
set +e
"$H" submit "$WORK/huge.yaml" 2> "$WORK/err"
rc=$?
set -e
expect_eq "$rc" 5 "exit code for an impossible request"
expect_contains "$(cat "$WORK/err")" "refused by Slurm" "impossible request message"
expect_contains "$(cat "$WORK/err")" "hint:" "impossible request hint"

# Slurm configured but unreachable: exit 5, a hint, no local fallback.
sed 's/^SlurmctldPort=.*/SlurmctldPort=1/' "$SLURM_CONF" > "$WORK/dead.conf"
write_spec "$WORK/ok.yaml" unreachable 0 0
set +e
SLURM_CONF="$WORK/dead.conf" "$H" submit "$WORK/ok.yaml" > "$WORK/out" 2> "$WORK/err"
rc=$?
set -e
expect_eq "$rc" 5 "exit code when slurmctld is unreachable"
expect_contains "$(cat "$WORK/err")" "did not answer" "unreachable message"
expect_contains "$(cat "$WORK/err")" "never falls back to running locally" "unreachable hint"
dir="$(ls -d "$WORK"/runs/unreachable-*)"
[ ! -e "$dir/logs/local-launch.log" ] || fail "the job was started locally"
[ -z "$(ls "$dir/logs")" ] || fail "the job produced output: $(ls "$dir/logs")"
expect_eq "$(field unreachable state)" SUBMIT_FAILED "unreachable submission state"

# --backend slurm without any Slurm configuration: an error, nothing created.
before="$(ls "$WORK/runs" | wc -l)"
set +e
env -u SLURM_CONF "$H" submit "$WORK/ok.yaml" --backend slurm 2> "$WORK/err"
rc=$?
set -e
if [ ! -e /etc/slurm/slurm.conf ]; then
  expect_eq "$rc" 5 "exit code without a Slurm configuration"
  expect_contains "$(cat "$WORK/err")" "Slurm is not configured here" "not configured message"
  expect_eq "$(ls "$WORK/runs" | wc -l)" "$before" "nothing created without Slurm"
fi
echo PASS
