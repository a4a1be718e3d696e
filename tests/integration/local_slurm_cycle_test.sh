#!/usr/bin/env bash
# Issue 2: local-slurm.sh start is idempotent, stop leaves none of its own
# daemons running, a second start after stop works, and a start on ports
# another cluster holds fails at once with a clear error.  Uses its own
# directory and ports, so it does not touch the suite's shared cluster.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
script="$HPCAI_SOURCE_DIR/scripts/local-slurm.sh"
dir="$(mktemp -d "$TEST_TMP/cycle.XXXXXX")"
port=$(( ${HPCAI_TEST_SLURM_PORT:-17817} + 50 ))
cleanup() { bash "$script" stop --dir "$dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT
bash "$script" start --nodes 1 --dir "$dir" --port-base "$port"
grep -q 'already running' <<< "$(bash "$script" start --nodes 1 --dir "$dir" --port-base "$port")" || fail "second start not idempotent"
pids="$(cat "$dir"/pids/*.pid)"
[ "$(echo "$pids" | wc -w)" -ge 3 ] || fail "expected munged, slurmctld, slurmd pid files"
grep -q idle <<< "$(SLURM_CONF="$dir/slurm.conf" sinfo -h -o '%t')" || fail "node not idle"
bash "$script" stop --dir "$dir"
for p in $pids; do
  if kill -0 "$p" 2>/dev/null; then fail "pid $p still running after stop"; fi
done
[ -z "$(ls "$dir"/pids/*.pid 2>/dev/null)" ] || fail "pid files left behind"
bash "$script" start --nodes 1 --dir "$dir" --port-base "$port"
# Another directory on the same ports: a clear error at once, nothing started.
other="$(mktemp -d "$TEST_TMP/cycle-other.XXXXXX")"
if out="$(bash "$script" start --nodes 1 --dir "$other" --port-base "$port" 2>&1)"; then
  bash "$script" stop --dir "$other" >/dev/null 2>&1 || true
  fail "a second cluster on the same ports started"
fi
[[ "$out" == *"port(s) $port $((port + 1)) on 127.0.0.1 already in use"* ]] || fail "unclear port clash error: $out"
[ -z "$(ls "$other"/pids/*.pid 2>/dev/null)" ] || fail "the refused start left daemons: $(ls "$other"/pids)"
jid="$(SLURM_CONF="$dir/slurm.conf" sbatch --parsable -o /dev/null --wrap true)"
state="$(SLURM_CONF="$dir/slurm.conf" wait_job_final "$jid" 60)"
[ "$state" = COMPLETED ] || fail "job after restart ended $state"
# status exits non-zero when nothing runs
bash "$script" stop --dir "$dir"
if bash "$script" status --dir "$dir" >/dev/null 2>&1; then fail "status should fail after stop"; fi
echo "PASS"
