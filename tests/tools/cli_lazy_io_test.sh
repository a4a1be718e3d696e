#!/usr/bin/env bash
# The `hpcai` executable must not load HDF5/MPI at start-up (cli/cli_io.h):
# they live in libhpcai_cli_io.so, dlopen()ed only by commands that need them.
#   cli_lazy_io_test.sh BIN_DIR [static|shared]
# `static`: the build links libstdc++ and yaml-cpp into hpcai (cli/CMakeLists.txt).
set -uo pipefail
BIN="$1/hpcai"
RUNTIME="${2:-shared}"
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -x "$BIN" ]] || fail "$BIN missing"

# (Checks use here-strings: `echo "$x" | grep -q` fails under pipefail when grep
# exits at its first match and echo gets SIGPIPE.)

# 1. No HDF5 / MPI among the executable's direct dependencies.
needed="$(readelf -d "$BIN" | grep NEEDED)"
grep -Eq 'hdf5|libmpi|open-pal|open-rte' <<<"$needed" && fail "hpcai links HDF5/MPI directly: $needed"

# 1b. Start-up: with the static runtime, no libstdc++.so / libgcc_s.so /
# libyaml-cpp.so either.
if [[ "$RUNTIME" == static ]]; then
  [[ "$needed" != *libstdc++* && "$needed" != *libgcc_s* && "$needed" != *yaml-cpp* ]] ||
    fail "static runtime expected, but: $needed"
  [[ "$needed" == *libslurm* ]] || fail "hpcai does not link libslurm: $needed"
fi

# 2. ... nor loaded indirectly when a non-data command runs.
loaded="$(LD_DEBUG=files "$BIN" --version 2>&1 >/dev/null | grep -E 'file=.*(hdf5|libmpi)' || true)"
[[ -z "$loaded" ]] || fail "hpcai --version loaded HDF5/MPI: $loaded"
[[ -n "$("$BIN" --version)" ]] || fail "hpcai --version printed nothing"

# 3. A data command loads the library and reaches HDF5 code (its own error for a missing dataset).
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
out="$(LD_DEBUG=files "$BIN" data inspect "$tmp/none" 2>&1)"; rc=$?
[[ $rc -ne 0 ]] || fail "inspect of a missing dataset exited 0"
grep -q 'file=.*libhpcai_cli_io.so' <<<"$out" || fail "data inspect did not load libhpcai_cli_io.so: $out"
grep -q 'file=.*hdf5' <<<"$out" || fail "data inspect did not load HDF5"
grep -q "$tmp/none" <<<"$out" || fail "inspect error does not name the path: $out"

# 4. A missing library is a clear error naming the path tried, not a crash.
out="$(HPCAI_CLI_IO_LIB="$tmp/nope/libhpcai_cli_io.so" "$BIN" data inspect "$tmp/none" 2>&1)"; rc=$?
[[ $rc -ne 0 && $rc -lt 128 ]] || fail "missing library: exit $rc (want a clean non-zero exit)"
grep -q "$tmp/nope/libhpcai_cli_io.so" <<<"$out" || fail "missing-library error does not name the path: $out"
grep -q "hint:" <<<"$out" || fail "missing-library error has no hint: $out"
# ... and commands that do not need it still work.
HPCAI_CLI_IO_LIB="$tmp/nope/libhpcai_cli_io.so" "$BIN" --version >/dev/null || fail "--version needs the library"
# 5. `hpcai CMD` builds only CMD's options (cli/main.cc); help, --version and
#    anything unknown still see every command.
help="$("$BIN" --help)" || fail "hpcai --help failed"
for c in submit status logs cancel resume validate init spec data ckpt; do
  grep -Eq "^  $c " <<<"$help" || fail "hpcai --help does not list '$c': $help"
done
out="$("$BIN" status --help)" || fail "hpcai status --help failed"
grep -q -- "--watch" <<<"$out" || fail "hpcai status --help lacks its options: $out"
"$BIN" submit --dry-run 2>/dev/null; rc=$?
[[ $rc -eq 2 ]] || fail "hpcai submit without a spec: exit $rc, want 2 (usage)"
"$BIN" sbumit x 2>/dev/null; rc=$?
[[ $rc -eq 2 ]] || fail "an unknown command: exit $rc, want 2 (usage)"
echo "PASS"
