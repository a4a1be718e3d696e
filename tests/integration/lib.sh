# Helpers for shell integration tests (sourced).
TEST_TMP="${HPCAI_TEST_TMP:-/tmp/hpcai-test}"
mkdir -p "$TEST_TMP"
fail() { echo "FAIL: $*" >&2; exit 1; }

# wait_job_final JOBID TIMEOUT_S [release] -> prints the final Slurm state.
# With "release", releases the job from its requeue hold whenever it is held
# (release_held below).
wait_job_final() {
  local jid="$1" timeout="$2" release="${3:-}" deadline state
  deadline=$((SECONDS + timeout))
  while [ $SECONDS -lt "$deadline" ]; do
    state="$(scontrol -o show job "$jid" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2 || true)"
    case "$state" in
      COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|BOOT_FAIL|DEADLINE|PREEMPTED)
        echo "$state"; return 0 ;;
      PENDING) if [ -n "$release" ]; then release_held "$jid"; fi ;;
    esac
    sleep 0.5
  done
  echo "TIMEOUT_WAITING($state)"
}

# release_held JOBID -> if the job is PENDING on its begin time (a requeued job
# waits for AuthInfo's cred_expire), make it eligible now.  Safe to call in a
# loop: a requeue that is still completing resets the begin time afterwards,
# so callers keep calling it until the job has started.
# Not within 2 s of the requeue (SubmitTime is reset by it): slurmd refuses to
# start a job whose credential is not newer, in whole seconds, than the
# requeue's revocation of the old one ("Job credential revoked"; the job then
# ends FAILED).  Slurm's own hold avoids that; StartTime=now does not.
release_held() {
  local line submit
  line="$(scontrol -o show job "$1" 2>/dev/null || true)"
  case "$line" in
    *JobState=PENDING*Reason=BeginTime*|*JobState=PENDING*Reason=None*)
      submit="$(grep -o 'SubmitTime=[^ ]*' <<< "$line" | cut -d= -f2 || true)"
      if [ -n "$submit" ] && [ $(( $(date +%s) - $(date -d "$submit" +%s 2>/dev/null || echo 0) )) -lt 2 ]; then
        return 0
      fi
      scontrol update JobId="$1" StartTime=now >/dev/null 2>&1 || true ;;
  esac
}

# wait_job_final_releasing JOBID TIMEOUT_S -> wait_job_final with "release".
wait_job_final_releasing() { wait_job_final "$1" "$2" release; }
