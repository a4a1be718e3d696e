#!/usr/bin/env bash
# Regenerates the reference tables in docs/spec.md from the schema table
# (`hpcai spec --markdown`).  tests/configs/docs_test.cc fails until this is
# run after a schema change.
#   scripts/gen-spec-docs.sh [BUILD_DIR]      (default: build)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
hpcai="${1:-$here/build}/bin/hpcai"
doc="$here/docs/spec.md"
begin='<!-- BEGIN GENERATED: hpcai spec --markdown -->'
end='<!-- END GENERATED -->'
tmp="$(mktemp)"
trap 'rm -f "$tmp" "$tmp.md"' EXIT
"$hpcai" spec --markdown > "$tmp.md"
awk -v b="$begin" -v e="$end" -v gen="$tmp.md" '
  $0 == b { print; while ((getline line < gen) > 0) print line; skip = 1; next }
  $0 == e { skip = 0 }
  !skip { print }' "$doc" > "$tmp"
grep -qF "$begin" "$tmp" && grep -qF "$end" "$tmp" || { echo "markers missing in $doc" >&2; exit 1; }
mv "$tmp" "$doc"
echo "updated $doc"
