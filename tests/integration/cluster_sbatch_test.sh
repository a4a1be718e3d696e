#!/usr/bin/env bash
# Issue 2: a plain `sbatch --wrap` job on the local cluster reaches COMPLETED
# and writes its output file.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
out="$(mktemp -d "$TEST_TMP/sbatch.XXXXXX")"
jid="$(sbatch --parsable -o "$out/out-%j.txt" --wrap 'echo hello-from-$SLURMD_NODENAME; exit 0')"
state="$(wait_job_final "$jid" 60)"
[ "$state" = COMPLETED ] || fail "job $jid ended $state, expected COMPLETED"
grep -q '^hello-from-n[12]$' "$out/out-$jid.txt" || fail "output file missing or wrong: $(cat "$out/out-$jid.txt" 2>&1)"
# A failing job must be reported FAILED with its exit code.
jid2="$(sbatch --parsable -o /dev/null --wrap 'exit 3')"
state="$(wait_job_final "$jid2" 60)"
[ "$state" = FAILED ] || fail "job $jid2 ended $state, expected FAILED"
grep -q 'ExitCode=3:0' <<< "$(scontrol show job "$jid2")" || fail "exit code 3 not recorded"
echo "PASS"
