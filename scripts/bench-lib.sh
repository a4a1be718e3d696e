# Shared setup of the scripts/bench-*.sh benchmarks.  Sourced, not run:
#   source "$(dirname "${BASH_SOURCE[0]}")/bench-lib.sh"
# Only setup lives here (options, the Slurm cluster, the work directory,
# timing helpers); what each benchmark measures stays in its own script.

# bench_parse_args UNKNOWN_FMT HELP_LINES TABLE ARGS...
# The option loop: every option in TABLE ("--opt=VAR ...") takes one value,
# stored in the shell variable VAR; -h/--help prints lines HELP_LINES (sed
# range, e.g. 2,10) of the script and exits 0; anything else prints
# UNKNOWN_FMT (printf, %s = the argument) on stderr and exits 2.
bench_parse_args() {
  local unknown_fmt="$1" help_lines="$2" table="$3" pair var
  shift 3
  while [[ $# -gt 0 ]]; do
    if [[ "$1" == -h || "$1" == --help ]]; then
      sed -n "${help_lines}p" "$0"
      exit 0
    fi
    var=""
    for pair in $table; do
      [[ "${pair%%=*}" == "$1" ]] && var="${pair#*=}"
    done
    if [[ -z "$var" ]]; then
      printf "$unknown_fmt\n" "$1" >&2
      exit 2
    fi
    if [[ $# -lt 2 ]]; then
      echo "$(basename "$0"): $1 needs a value" >&2
      exit 2
    fi
    printf -v "$var" '%s' "$2"
    shift 2
  done
}

# bench_slurm_setup BUILD PORT JOB_NAME WORK_PREFIX
# Uses $SLURM_CONF when set, else starts a private 2-node cluster in
# BUILD/slurm-bench on ports from PORT.  Makes WORK (a fresh temporary
# directory named WORK_PREFIX.XXXXXX), exports HPCAI_HOME=$WORK/home and
# NO_COLOR=1, and on exit cancels the jobs named JOB_NAME, stops the cluster
# it started and removes WORK.
bench_slurm_setup() {
  local build="$1" port="$2"
  BENCH_JOB_NAME="$3"
  BENCH_STARTED=""
  if [[ -z "${SLURM_CONF:-}" ]]; then
    # The private cluster's saved jobs are only the earlier benchmarks' (kept
    # ten minutes, MinJobAge): many runs in a row would reach MaxJobCount and
    # every submission would be refused.  Start it with none, unless it runs.
    if ! bash "$REPO/scripts/local-slurm.sh" status --dir "$build/slurm-bench" > /dev/null 2>&1; then
      rm -rf "$build/slurm-bench/state"
    fi
    bash "$REPO/scripts/local-slurm.sh" start --nodes 2 --dir "$build/slurm-bench" --port-base "$port" >&2
    export SLURM_CONF="$build/slurm-bench/slurm.conf"
    BENCH_STARTED="$build/slurm-bench"
  fi
  WORK="$(mktemp -d "${TMPDIR:-/tmp}/$4.XXXXXX")"
  export HPCAI_HOME="$WORK/home" NO_COLOR=1
  trap bench_slurm_cleanup EXIT
}
bench_slurm_cleanup() {
  scancel --name="$BENCH_JOB_NAME" >/dev/null 2>&1 || true
  [[ -n "$BENCH_STARTED" ]] && bash "$REPO/scripts/local-slurm.sh" stop --dir "$BENCH_STARTED" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}

# Timing: nanoseconds now; ns -> "12.3" ms; median of the numbers on stdin.
# now_ns forks `date` (about 1 ms here): fine for spans of many ms.  For short
# commands use `stamp VAR`, which stores microseconds since the epoch in VAR
# from bash's $EPOCHREALTIME without a fork.
now_ns() { date +%s%N; }
stamp() {
  local t="$EPOCHREALTIME"
  printf -v "$1" '%s' "${t/[.,]/}"
}
ms() { awk "BEGIN { printf \"%.1f\", $1 / 1e6 }"; }
median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
