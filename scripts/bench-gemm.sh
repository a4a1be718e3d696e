#!/usr/bin/env bash
# Kernel-level benchmark (issue 6, "GEMM-bound layers" and step throughput):
#   - hpcai's MLP 784-512-256-10 training step (batch 256, SGD momentum) vs the
#     bare cblas_sgemm calls of the same shapes, in the same process kind and
#     run: once with OpenBLAS's own threading, once sharded across threads the
#     way hpcai issues them (target: hpcai / bare <= 1.25)
#   - samples/s of one hpcai process vs PyTorch (Debian python3-torch, CPU) on
#     the same model, batch and thread count, MLP and the Fashion-MNIST CNN;
#     PyTorch gets its best of OPENBLAS_NUM_THREADS=1/T x OMP_WAIT_POLICY
#     PASSIVE/default (targets: MLP >= 1.5x, CNN >= 1.0x at 2 threads)
#
#   scripts/bench-gemm.sh [--build DIR] [--rounds N] [--threads 1,2] [--models mlp,cnn]
# Markdown tables on stdout (copy into docs/kernels.md); progress on stderr.
# Both sides run under the same environment (OPENBLAS_CORETYPE is left as is),
# interleaved, medians over rounds.  Random in-memory data: no I/O included.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="$REPO/build"
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) BUILD="$2"; shift 2 ;;
    --rounds|--threads|--models|--batch) ARGS+=("$1" "$2"); shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "bench-gemm.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
if [[ ! -x "$BUILD/bin/hpcai_bench_step" ]]; then
  echo "bench-gemm.sh: $BUILD/bin/hpcai_bench_step is not built; run: cmake --build $BUILD --target hpcai_bench_step" >&2
  exit 2
fi
exec /usr/bin/python3 "$REPO/scripts/bench/step_driver.py" --bin "$BUILD/bin" "${ARGS[@]}"
