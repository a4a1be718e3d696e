# Helpers for the hpcai submit/status/logs/cancel integration tests (sourced).
# Each test gets its own HPCAI_HOME and runs root under $HPCAI_TEST_TMP, and
# cancels whatever it left running on exit.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
H="${HPCAI_BIN_DIR:?HPCAI_BIN_DIR must point at build/bin}/hpcai"
TINY="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/tiny_train.sh"
PY=/usr/bin/python3
WORK="$(mktemp -d "$TEST_TMP/hpcai-it.XXXXXX")"
export HPCAI_HOME="$WORK/home"
export NO_COLOR=1

cleanup_runs() {
  local ids
  ids="$("$H" status --all --json 2>/dev/null | $PY -c '
import json, sys
try: d = json.load(sys.stdin)
except Exception: sys.exit(0)
for r in d["runs"]:
    if r["live"] and r["kind"] == "run" and r["job_id"]: print(r["run_id"])' 2>/dev/null || true)"
  [ -n "$ids" ] && "$H" cancel $ids >/dev/null 2>&1 || true
}
trap cleanup_runs EXIT

# write_spec FILE NAME SLEEP EXIT [extra YAML lines...]
write_spec() {
  local file="$1" name="$2" sleep="$3" code="$4"
  shift 4
  {
    echo "name: $name"
    echo "runs_root: $WORK/runs"
    echo "train_binary: $TINY"
    echo "resources:"
    echo "  nodes: 1"
    echo "  tasks_per_node: 1"
    echo "  mem: 50M"
    echo "  time: \"00:05:00\""
    echo "preemption:"
    echo "  lead_seconds: 30"
    echo "environment:"
    echo "  env:"
    echo "    TINY_SLEEP: \"$sleep\""
    echo "    TINY_EXIT: \"$code\""
    local l
    for l in "$@"; do echo "$l"; done
  } > "$file"
}

# submit_id ARGS... -> the run id (fails the test if submission failed)
submit_id() {
  local out
  out="$("$H" submit "$@" --json)" || fail "hpcai submit $* failed: $out"
  echo "$out" | $PY -c 'import json,sys; print(json.load(sys.stdin)["run_id"])'
}

# field RUN KEY -> a field of RUN in `hpcai status RUN --json`
field() {
  "$H" status "$1" --json | $PY -c '
import json, sys
d = json.load(sys.stdin)
for r in d["runs"]:
    if r["run_id"] == sys.argv[1] or (len(d["runs"]) == 1 and r["kind"] == "run"):
        v = r
        for k in sys.argv[2].split("."): v = v[k] if v is not None else None
        print("" if v is None else v); break' "$1" "$2"
}

# wait_state RUN TIMEOUT STATE... -> waits until RUN is in one of STATEs
wait_state() {
  local run="$1" timeout="$2" deadline st
  shift 2
  deadline=$((SECONDS + timeout))
  while [ $SECONDS -lt $deadline ]; do
    st="$(field "$run" state)"
    for want in "$@"; do [ "$st" = "$want" ] && return 0; done
    [ -n "${RELEASE_JOB:-}" ] && release_held "$RELEASE_JOB"
    sleep 0.3
  done
  fail "$run: state '$st' after ${timeout}s, expected one of: $*"
}

# wait_state_releasing RUN JOB TIMEOUT STATE... -> wait_state that also
# releases JOB whenever Slurm holds it on its begin time after a requeue.
wait_state_releasing() { RELEASE_JOB="$2" wait_state "$1" "${@:3}"; }

# slurm_job_of RUN -> job id
slurm_job_of() { field "$1" job_id; }

expect_eq() { [ "$1" = "$2" ] || fail "$3: got '$1', expected '$2'"; }
# No `echo | grep -q` here: grep -q exits at its first match, and under
# pipefail the echo's SIGPIPE then fails a check that matched.
expect_contains() { [[ "$1" == *"$2"* ]] || fail "$3: '$2' not found in: $1"; }
