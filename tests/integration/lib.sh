# Helpers for shell integration tests (sourced).
TEST_TMP="${HPCAI_TEST_TMP:-/tmp/hpcai-test}"
mkdir -p "$TEST_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_job_final JOBID TIMEOUT_S -> prints the final Slurm state.
wait_job_final() {
  local jid="$1" timeout="$2" deadline state
  deadline=$((SECONDS + timeout))
  while [ $SECONDS -lt "$deadline" ]; do
    state="$(scontrol -o show job "$jid" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)"
    case "$state" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED)
        echo "$state"; return 0 ;;
    esac
    sleep 0.5
  done
  echo "TIMEOUT_WAITING($state)"
}
