#!/usr/bin/env bash
# Installs hpcai's Debian packages (if missing) and builds into build/.
# Idempotent: a re-run with everything installed and nothing changed takes seconds.
#
#   scripts/setup.sh [--debug] [--no-cuda] [--build-dir DIR] [--werror]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="$REPO/build"
BUILD_TYPE=Release
CUDA=AUTO
WERROR=OFF
[ -n "${CI:-}" ] && WERROR=ON
while [ $# -gt 0 ]; do
  case "$1" in
    --debug) BUILD_TYPE=Debug; shift ;;
    --no-cuda) CUDA=OFF; shift ;;
    --build-dir) BUILD_DIR="$2"; shift 2 ;;
    --werror) WERROR=ON; shift ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option '$1'" >&2; exit 2 ;;
  esac
done

PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  slurm-wlm slurmctld slurmd slurm-client munge libslurm-dev
  openmpi-bin libopenmpi-dev
  libhdf5-openmpi-dev hdf5-tools
  libyaml-cpp-dev libcli11-dev libgtest-dev libgmock-dev libbenchmark-dev libopenblas-dev
  dataset-fashion-mnist
  python3 python3-numpy python3-h5py python3-torch python3-mpi4py
)

SUDO=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "setup.sh: not root and no sudo: cannot install packages" >&2; exit 1; }
  SUDO=sudo
fi

missing=()
for p in "${PACKAGES[@]}"; do
  grep -q "install ok installed" <<< "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${#missing[@]} Debian package(s): ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "setup.sh: all Debian packages present"
fi

GEN=()
command -v ninja >/dev/null && GEN=(-G Ninja)
if [ ! -f "$BUILD_DIR/CMakeCache.txt" ]; then
  cmake -S "$REPO" -B "$BUILD_DIR" "${GEN[@]}" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" \
        -DHPCAI_WITH_CUDA="$CUDA" -DHPCAI_WERROR="$WERROR"
else
  cmake "$BUILD_DIR" -DCMAKE_BUILD_TYPE="$BUILD_TYPE" -DHPCAI_WITH_CUDA="$CUDA" -DHPCAI_WERROR="$WERROR" >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$(nproc)"
echo "setup.sh: built $BUILD_DIR/bin/hpcai and $BUILD_DIR/bin/hpcai-train"
