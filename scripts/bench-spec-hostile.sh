#!/usr/bin/env bash
# Measures `hpcai validate --no-data` on hostile specs: wall time (median of
# 3) and peak RSS, next to the budget (1 s, 200 MB) the spec loader promises.
# Inputs: the committed fixtures in tests/configs/hostile/ plus generated
# worst shapes at the size limit (256 KiB) and above it (50 MB, deep nesting).
#
#   scripts/bench-spec-hostile.sh [BUILD_DIR]      (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${1:-$here/build}"
hpcai="$build/bin/hpcai"
[[ -x "$hpcai" ]] || { echo "no $hpcai; build the hpcai target first" >&2; exit 1; }
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt-get install time)" >&2; exit 1; }
py=/usr/bin/python3
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

"$py" - "$work" <<'PY'
import sys, os
d = sys.argv[1]
N = 262000  # just under the 256 KiB limit
def w(name, data):
    open(os.path.join(d, name), "wb").write(data if isinstance(data, bytes) else data.encode())
w("gen-50MB.yaml", b"a" * (50 << 20))
w("gen-deep-flow-10000.yaml", "a: " + "[" * 10000 + "]" * 10000 + "\n")
w("gen-deep-dash-10000.yaml", "a:\n  " + "- " * 10000 + "x\n")
w("gen-deep-indent.yaml", "".join(" " * i + "k:\n" for i in range(700)))
w("gen-limit-plain-scalar.yaml", "name: " + "v" * (N - 10) + "\n")
s = "model: {hidden: ["
while len(s) < N - 10: s += "1,"
w("gen-limit-flow-list.yaml", s + "1]}\n")
s = ""; i = 0
while len(s) < N - 20: s += "k%d: 1\n" % i; i += 1
w("gen-limit-unknown-keys.yaml", s)
s = "environment:\n  env:\n"; i = 0
while len(s) < N - 40: s += '    K%d: "${HOME}${HOME}"\n' % i; i += 1
w("gen-limit-interpolation-valid.yaml", s)
s = "sweep:\n  training.seed: ["
s += ",".join(str(i) for i in range(1000)) + "]\nresources: {tasks_per_node: 2}\ntraining: {global_batch: 64}\n"
w("gen-sweep-1000-points-valid.yaml", s)
PY

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf "%-40s %10s %8s %9s %s\n" "input" "bytes" "exit" "median_s" "peak_rss_MB (budget: 1 s, 200 MB)"
# Baseline: starting the binary at all (shared libraries: HDF5, MPI, ...).
times=(); rss=0
for rep in 1 2 3; do
  /usr/bin/time -o "$work/time" -f "%e %M" "$hpcai" --version >/dev/null 2>&1 || true
  out="$(tail -1 "$work/time")"; times+=("${out% *}"); r="${out#* }"; (( r > rss )) && rss=$r
done
printf "%-40s %10s %8d %9s %s\n" "(baseline: hpcai --version)" "-" 0 "$(printf "%s\n" "${times[@]}" | median)" \
  "$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')"
for f in "$here"/tests/configs/hostile/*.yaml "$work"/gen-*.yaml; do
  times=()
  rss=0
  for rep in 1 2 3; do
    /usr/bin/time -o "$work/time" -f "%e %M" "$hpcai" validate --no-data "$f" >/dev/null 2>&1 && rc=0 || rc=$?
    out="$(tail -1 "$work/time")"
    times+=("${out% *}")
    r="${out#* }"
    (( r > rss )) && rss=$r
  done
  med="$(printf "%s\n" "${times[@]}" | median)"
  printf "%-40s %10d %8d %9s %s\n" "$(basename "$f")" "$(stat -c %s "$f")" "$rc" "$med" "$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')"
done
