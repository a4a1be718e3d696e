#!/usr/bin/env bash
# Reader and converter benchmark (figures go to docs/data-format.md).
#
#   scripts/bench-reader.sh [--build-dir build] [--work DIR] [--samples N] [--repeats R]
#
# 1. Convert speed: `hpcai data convert --from idx` of the Debian Fashion-MNIST
#    files (MB/s of input files read and of shards written), median of R runs.
# 2. Reader throughput: `hpcai data bench`, which alternates a raw read(2) of
#    the shard files (the reference: page cache -> user memory, 4 MiB reads)
#    with one reader epoch over the same dataset and reports medians and the
#    ratio reader / raw (MB/s of float32 x delivered vs MB/s of file bytes).
#    Datasets: synthetic float32 (N x 784) without and with HDF5 chunk
#    checksums, and Fashion-MNIST (uint8, x/255 delivered as float32);
#    modes stream (chunk-shuffle windows) and cache (whole dataset in memory).
#    Also per CPU-second (getrusage, all threads): the CPU cost of the same
#    bytes, which stays meaningful when other jobs share the cores.
#    Then the main rows again with 2 gather threads (the batch's row copies
#    split between the producer and a helper thread).
#    "1st epoch": the reader's first epoch against the raw median (it also
#    verifies each mapped chunk's Fletcher-32 checksum and faults its pages in;
#    later epochs do neither).  --no-map rows: stream mode through H5Dread.
# 3. Data stall: the same reader with a busy 5 ms "step" per batch of 256;
#    stall = time Next() waited / loop time.
# The page cache is warm (it cannot be dropped here); run on a quiet machine,
# results vary +-20% from run to run.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$REPO/scripts/bench-lib.sh"
BUILD="$REPO/build"
WORK=""
SAMPLES=100000
REPEATS=7
bench_parse_args "bench-reader.sh: unknown option '%s'" 2,20 \
  "--build-dir=BUILD --work=WORK --samples=SAMPLES --repeats=REPEATS" "$@"
HPCAI="$BUILD/bin/hpcai"
[ -x "$HPCAI" ] || { echo "bench-reader.sh: $HPCAI not built (cmake --build $BUILD --target hpcai)" >&2; exit 1; }
WORK="${WORK:-$BUILD/bench-reader}"
rm -rf "$WORK"; mkdir -p "$WORK"
PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist

echo "== convert: Fashion-MNIST IDX (gzip) -> HDF5 shards, median of $REPEATS"
for i in $(seq "$REPEATS"); do
  "$HPCAI" data convert -q --from idx "$FM" --out "$WORK/fmnist" --overwrite
done | $PY -c '
import re, statistics, sys
ins, outs, secs = [], [], []
for line in sys.stdin:
    m = re.search(r"in ([0-9.]+) s$", line)
    if m: secs.append(float(m.group(1)))
    m = re.search(r"in:\s+([0-9.]+) MB on disk \(([0-9.]+) MB decoded\), ([0-9.]+) MB/s", line)
    if m: ins.append(float(m.group(3))); dec = float(m.group(2)); disk = float(m.group(1))
    m = re.search(r"out: ([0-9.]+) MB, ([0-9.]+) MB/s", line)
    if m: outs.append(float(m.group(2))); out = float(m.group(1))
print(f"  input {disk:.1f} MB gz ({dec:.1f} MB decoded) -> {out:.1f} MB shards")
print(f"  time {statistics.median(secs):.2f} s   in {statistics.median(ins):.1f} MB/s (gz files)   "
      f"{dec/statistics.median(secs):.1f} MB/s decoded   out {statistics.median(outs):.1f} MB/s")
'

echo "== datasets"
"$HPCAI" data synth -q --samples "$SAMPLES" --features 784 --classes 10 --out "$WORK/synth" >/dev/null
"$HPCAI" data convert -q --from hdf5 "$WORK/synth" --out "$WORK/synth_nock" --no-chunk-checksums >/dev/null
"$HPCAI" data convert -q --from idx "$FM" --out "$WORK/fmnist_nock" --no-chunk-checksums >/dev/null
echo "  synth: $SAMPLES x 784 float32 ($(du -sm "$WORK/synth" | cut -f1) MB), fmnist: 60000 x 784 uint8"

run() {  # label dir mode [extra args]
  local label="$1" dir="$2" mode="$3"; shift 3
  "$HPCAI" data bench "$dir" --mode "$mode" --repeats "$REPEATS" --json "$@" | $PY -c '
import json, sys
j = json.loads(sys.stdin.read())
stall = "  stall %.1f%%" % (100 * j["stall_fraction"]) if j["compute_ms"] > 0 else ""
stall += "  consumer copied %.0f%%" % (100 * j["consumer_gather_share"])
print("  %-34s %-6s raw %6.0f MB/s  reader %6.0f MB/s  ratio %.2f (1st epoch %.2f) | per CPU-s: raw %6.0f MB  reader %6.0f MB  ratio %.2f%s"
      % (sys.argv[1], j["mode"], j["raw_mb_s"], j["reader_mb_s"], j["ratio"], j["first_epoch_mb_s"] / j["raw_mb_s"],
         j["raw_cpu_mb_s"], j["reader_cpu_mb_s"], j["cpu_ratio"], stall))
' "$label"
}
echo "== reader throughput (medians of $REPEATS, alternating with raw read(2))"
run "synth float32, no chunk checksums" "$WORK/synth_nock" stream
run "synth float32, no chunk checksums" "$WORK/synth_nock" cache
run "synth float32, Fletcher-32 chunks" "$WORK/synth" stream
run "synth float32, Fletcher-32 chunks" "$WORK/synth" cache
run "fmnist uint8, no chunk checksums" "$WORK/fmnist_nock/train" stream
run "fmnist uint8, Fletcher-32 chunks" "$WORK/fmnist/train" stream
run "fmnist uint8, Fletcher-32 chunks" "$WORK/fmnist/train" cache
echo "== stream mode through H5Dread (--no-map: no mapping of the shards)"
run "synth float32, no chunk checksums" "$WORK/synth_nock" stream --no-map
run "synth float32, Fletcher-32 chunks" "$WORK/synth" stream --no-map
echo "== the same, 2 gather threads (ReaderOptions::gather_threads = 2)"
run "synth float32, no chunk checksums" "$WORK/synth_nock" stream --gather-threads 2
run "synth float32, no chunk checksums" "$WORK/synth_nock" cache --gather-threads 2
run "synth float32, Fletcher-32 chunks" "$WORK/synth" cache --gather-threads 2
run "fmnist uint8, Fletcher-32 chunks" "$WORK/fmnist/train" cache --gather-threads 2
echo "== data stall with a 5 ms busy step per batch of 256"
run "synth float32 stream, step 5 ms" "$WORK/synth" stream --compute-ms 5
run "fmnist uint8 stream, step 5 ms" "$WORK/fmnist/train" stream --compute-ms 5
rm -rf "$WORK"
