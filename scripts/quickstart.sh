#!/usr/bin/env bash
# The quickstart: from a fresh Debian 12 machine (as root) to a trained
# Fashion-MNIST MLP on a real local Slurm cluster.
#   1. install packages + build            (scripts/setup.sh)
#   2. start a 1-node Slurm cluster         (scripts/local-slurm.sh start)
#   3. convert Fashion-MNIST to HDF5 shards (hpcai data convert)
#   4. submit the example and follow it     (hpcai submit --follow)
#   5. show the run and its checkpoints     (hpcai status, hpcai ckpt list)
# The cluster keeps running afterwards; stop it with: bash scripts/local-slurm.sh stop
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Installing packages and building"
bash scripts/setup.sh
HPCAI="$REPO/build/bin/hpcai"

step "Starting a local Slurm cluster"
bash scripts/local-slurm.sh start --nodes 1
eval "$(bash scripts/local-slurm.sh env)"
sinfo

step "Converting Fashion-MNIST (Debian package dataset-fashion-mnist) to HDF5 shards"
if [ ! -f data/fmnist/train/manifest.json ] || [ ! -f data/fmnist/test/manifest.json ]; then
  "$HPCAI" data convert --from idx /usr/share/datasets/fashion-mnist --out data/fmnist
fi
"$HPCAI" data inspect data/fmnist/train

step "Validating the experiment spec"
"$HPCAI" validate configs/examples/fashion-mnist-mlp.yaml

step "Submitting and following the run"
"$HPCAI" submit configs/examples/fashion-mnist-mlp.yaml --follow

step "Run status and checkpoints"
"$HPCAI" status
# The run just made: the newest of this spec's runs (ids sort by time; the
# index may also hold runs from earlier quickstarts or other checkouts).
run="$("$HPCAI" status --all --json | /usr/bin/python3 -c '
import json, sys
ids = [r["run_id"] for r in json.load(sys.stdin)["runs"] if r["kind"] == "run" and r["name"] == "fashion-mnist-mlp"]
print(max(ids))')"
"$HPCAI" ckpt list "$run"
echo
echo "Done. Try: $HPCAI logs $run | tail ; $HPCAI status --help"
echo "The local Slurm cluster keeps running ($(bash scripts/local-slurm.sh env));"
echo "stop it with: bash scripts/local-slurm.sh stop"
