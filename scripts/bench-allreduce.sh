#!/usr/bin/env bash
# Allreduce benchmark: hpcai's gradient paths (Communicator / GradientSync:
# the bucketed MPI_Iallreduce path and the node-local shared-memory path) vs
# plain MPI_Allreduce, side by side in one run, 4 KiB .. 64 MiB, plus an
# overlap measurement (simulated backward).
# Figures use nccl-tests' definitions: algbw = bytes/time, busbw = algbw*2(n-1)/n.
#
#   scripts/bench-allreduce.sh [--np N] [--build DIR] [--repeats R] [-- extra args]
# Results (markdown tables) go to stdout; copy them into docs/runtime.md.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NP=2
BUILD="$REPO/build"
REPEATS=5
EXTRA=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --np) NP="$2"; shift 2 ;;
    --build) BUILD="$2"; shift 2 ;;
    --repeats) REPEATS="$2"; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) echo "bench-allreduce.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
BIN="$BUILD/bin/hpcai-bench-allreduce"
if [[ ! -x "$BIN" ]]; then
  echo "bench-allreduce.sh: building hpcai-bench-allreduce in $BUILD" >&2
  cmake --build "$BUILD" --target hpcai-bench-allreduce >&2
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "# bench-allreduce: $(date -u +%Y-%m-%dT%H:%M:%SZ) host $(hostname) cores $(nproc) np $NP load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(mpirun --version 2>/dev/null | head -1)"
# --bind-to core: one rank per core, as a real job would be placed.
BIND=none; [[ "$NP" -le "$(nproc)" ]] && BIND=core
mpirun -np "$NP" --oversubscribe --bind-to "$BIND" "$BIN" --repeats "$REPEATS" "${EXTRA[@]}"
