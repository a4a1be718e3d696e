#!/usr/bin/env bash
# Sets up (packages + build) and runs the whole test suite with ctest:
# unit tests, MPI tests (mpirun -np 1/2/3) and Slurm integration tests against
# a private local cluster that the suite starts and stops itself.
#
#   scripts/test.sh [ctest args...]      e.g. scripts/test.sh -L unit
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$REPO/scripts/setup.sh"
cd "$REPO/build"
# OpenMPI refuses root without these; the test environment sets them per test too.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --output-on-failure --timeout 900 -j 2 "$@"
