#!/usr/bin/env bash
# Issue 2: a -N 2 job runs a 2-rank MPI allreduce across n1 and n2 (mpirun
# inside the allocation); the output proves both ranks, on both nodes, took part.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
probe="$HPCAI_BIN_DIR/mpi_probe"
[ -x "$probe" ] || fail "mpi_probe not built at $probe"
out="$(mktemp -d "$TEST_TMP/mpi2.XXXXXX")"
cat > "$out/job.sh" <<JOB
#!/bin/bash
#SBATCH -N 2 --ntasks-per-node=1 --time=2 -o $out/out-%j.txt
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun -np 2 --map-by node "$probe"
JOB
jid="$(sbatch --parsable "$out/job.sh")"
state="$(wait_job_final "$jid" 90)"
cat "$out/out-$jid.txt"
[ "$state" = COMPLETED ] || fail "job $jid ended $state"
grep -q '^rank 0/2 node=n[12] sum=3$' "$out/out-$jid.txt" || fail "rank 0 missing"
grep -q '^rank 1/2 node=n[12] sum=3$' "$out/out-$jid.txt" || fail "rank 1 missing"
nodes="$(grep -o 'node=n[12]' "$out/out-$jid.txt" | sort -u | wc -l)"
[ "$nodes" = 2 ] || fail "ranks did not run on two different nodes"
echo "PASS"
