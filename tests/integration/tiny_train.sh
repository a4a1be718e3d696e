#!/bin/bash
# A stand-in for hpcai-train in the Slurm-mechanics tests, through the
# documented `train_binary` override (the real hpcai-train is tested by the
# runtime's own tests).  Called as: tiny_train.sh --run-dir RUN
#   TINY_SLEEP  seconds to run (default 0)        TINY_EXIT  exit code (default 0)
#   On USR1: "got USR1", exit 75 (checkpointed);  on TERM: exit 143.
#   TINY_REQUEUE=N: on USR1 while the restart count is below N, rank 0 first
#   asks the job script for a requeue as hpcai-train does: it writes
#   logs/requeue-$HPCAI_JOB_ID-$HPCAI_RESTART.json and the heartbeat note
#   "requeue requested (...)"; the script requeues after the step exited 75.
# Rank 0 writes heartbeat.json like hpcai-train does.
run_dir="$2"
rank="${OMPI_COMM_WORLD_RANK:-${SLURM_PROCID:-0}}"
echo "tiny-train rank $rank on $(hostname) job ${HPCAI_JOB_ID:-?} restart ${HPCAI_RESTART:-?}"
echo "tiny-train rank $rank stderr line" >&2
on_usr1() {
  echo "tiny-train rank $rank: got USR1"
  if [ "$rank" = 0 ] && [ "${HPCAI_RESTART:-0}" -lt "${TINY_REQUEUE:-0}" ]; then
    local req="$run_dir/logs/requeue-$HPCAI_JOB_ID-$HPCAI_RESTART.json"
    printf '{"job_id":"%s","restart":%d}\n' "$HPCAI_JOB_ID" "$HPCAI_RESTART" > "$req.tmp" && mv -f "$req.tmp" "$req"
    heartbeat 1 1 preempted "requeue requested (restart $((HPCAI_RESTART + 1)) of 5)"
    echo "tiny-train rank $rank: requeue requested for job $HPCAI_JOB_ID"
  fi
  exit 75
}
trap on_usr1 USR1
trap 'echo "tiny-train rank $rank: got TERM"; exit 143' TERM
# Handlers installed: the job script stops holding back signals (as hpcai-train does).
if [ "$rank" = 0 ] && [ -n "${HPCAI_JOB_ID:-}" ]; then : > "$run_dir/logs/ready-$HPCAI_JOB_ID-${HPCAI_RESTART:-0}"; fi
heartbeat() {  # step total phase [note]
  [ "$rank" = 0 ] || return 0
  printf '{"step": %d, "total_steps": %d, "epoch": 1, "epochs": 2, "loss": 0.5, "lr": 0.1, "samples_per_sec": 1000, "eta_seconds": 5, "val_accuracy": -1, "phase": "%s", "job_id": "%s", "restart": %d, "world_size": 1, "updated_at": %s, "note": "%s"}\n' \
    "$1" "$2" "$3" "${HPCAI_JOB_ID:-}" "${HPCAI_RESTART:-0}" "$(date +%s)" "${4:-}" > "$run_dir/heartbeat.json.tmp.$$" &&
    mv -f "$run_dir/heartbeat.json.tmp.$$" "$run_dir/heartbeat.json"
}
ticks=$(awk "BEGIN { print int(${TINY_SLEEP:-0} * 10) }")
heartbeat 0 "$ticks" train
for ((i = 1; i <= ticks; i++)); do
  sleep 0.1
  if (( i % 5 == 0 )); then heartbeat "$i" "$ticks" train; fi
done
heartbeat "$ticks" "$ticks" done
echo "tiny-train rank $rank done, exit ${TINY_EXIT:-0}"
exit "${TINY_EXIT:-0}"
