#!/usr/bin/env bash
# Checkpoint benchmark (figures go to docs/checkpoint-format.md).
#
#   scripts/bench-checkpoint.sh [--build-dir build] [--work DIR] [--mb "64 256"] [--repeats R] [--step-ms MS]
#
# For each state size: io::WriteCheckpointDurable (HDF5 + CRC-32C per tensor
# + fsync + rename + fsync(dir) + LATEST: the time until the checkpoint is
# safe) against a raw write(2) + fsync of the same bytes, alternating, medians
# -> ratio of MB/s; the keep_last prune of the previous file (an unlink) is
# timed on its own and shown as a second ratio.  Then the stall a training
# loop sees per checkpoint: synchronous WriteCheckpoint vs
# AsyncCheckpointWriter::Submit (copy into host buffers; the write runs on a
# background thread during a busy STEP-ms "training" interval), next to a
# plain memcpy of the state.  fsync is cheap on this machine (virtual disk
# cached by the host): absolute MB/s are not storage speed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$REPO/scripts/bench-lib.sh"
BUILD="$REPO/build"
WORK=""
SIZES="64 256"
REPEATS=5
STEP_MS=1000
bench_parse_args "bench-checkpoint.sh: unknown option '%s'" 2,15 \
  "--build-dir=BUILD --work=WORK --mb=SIZES --repeats=REPEATS --step-ms=STEP_MS" "$@"
BENCH="$BUILD/bin/hpcai-ckpt-bench"
[ -x "$BENCH" ] || { echo "bench-checkpoint.sh: $BENCH not built (cmake --build $BUILD --target hpcai-ckpt-bench)" >&2; exit 1; }
WORK="${WORK:-$BUILD/bench-checkpoint}"
echo "== checkpoint write vs raw write+fsync (medians of $REPEATS), stall per checkpoint (steps >= $STEP_MS ms and >= 1.5x the write)"
for mb in $SIZES; do
  "$BENCH" --dir "$WORK" --mb "$mb" --repeats "$REPEATS" --step-ms "$STEP_MS" | /usr/bin/python3 -c '
import json, sys
j = json.loads(sys.stdin.read())
print("  %5.0f MB in %d tensors: raw write+fsync %6.0f MB/s  checkpoint %6.0f MB/s  ratio %.2f "
      "(+ keep_last prune %.1f ms: %.2f) | "
      "stall: sync %6.1f ms  async %6.1f ms (copy %5.1f + wait %4.1f)  memcpy of the state %5.1f ms  [step %.0f ms]"
      % (j["mb"], j["tensors"], j["raw_write_fsync_mb_s"], j["checkpoint_mb_s"], j["ratio"], j["prune_ms"], j["ratio_with_prune"],
         j["sync_stall_ms"], j["async_stall_ms"], j["async_copy_ms"], j["async_wait_ms"], j["memcpy_ms"], j["step_ms"]))'
done
rm -rf "$WORK"
