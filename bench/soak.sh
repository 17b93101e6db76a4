#!/usr/bin/env bash
# fdwatch soak benchmark: two system-wide instances (the live `top --json`
# view and a `record --ring` flight recorder) side by side under a storm, with
# their memory, fds and CPU sampled; then the table and the slopes.  See
# bench/README.md ("Soak").
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo bench/soak.sh [--duration S] [--interval S] [--fds N] [--procs N] [--churn R] [--keep]

Phase 1 (seeding): a process holding N fds before fdwatch attaches; prints the
time from "attached" to the first status line and fdwatch's memory per fd.
Phase 2 (soak, S seconds): `fdwatch top --json` and `fdwatch record --ring 10m
-a` run side by side while storm generates
  churn     R open+close pairs/s on two threads
  forks     N short-lived processes (fork + exec /bin/true), spread over S
  hold      N fds opened, then closed in random order, every 3 samples
  pidreuse  host pids handed out again (ns_last_pid), checked per pair
Every interval: RSS, own fds and CPU of both instances; events/s, lost events
and tracked processes from top's frame.  At the end: the slopes after warm-up,
the holder's fd count against /proc, and what is left of the short-lived ones.

  --duration S   soak seconds (default 600)
  --interval S   seconds between samples (default 10)
  --fds N        fds of the holder (default 1000000)
  --procs N      short-lived processes over the soak (default 100000)
  --churn R      open+close pairs per second (default 200000)
  --keep         keep the raw outputs and print where they are
Environment: FDWATCH (default build/fdwatch), STORM (default build/bench/storm).
EOF
}

die() { echo "soak: $*" >&2; exit 1; }
bad_usage() { echo "soak: $*" >&2; exit 2; }
int_arg() { [[ ${2:-} =~ ^[1-9][0-9]{0,9}$ ]] || bad_usage "$1 ${2:-}: want a positive integer"; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FDWATCH=${FDWATCH:-$root/build/fdwatch}
STORM=${STORM:-$root/build/bench/storm}
duration=600 interval=10 nfds=1000000 procs=100000 churn=200000 keep=0
while (($#)); do
  case $1 in
    --duration) int_arg "$1" "${2:-}"; duration=$2; shift 2 ;;
    --interval) int_arg "$1" "${2:-}"; interval=$2; shift 2 ;;
    --fds) int_arg "$1" "${2:-}"; nfds=$2; shift 2 ;;
    --procs) int_arg "$1" "${2:-}"; procs=$2; shift 2 ;;
    --churn) int_arg "$1" "${2:-}"; churn=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
((EUID == 0)) || die "needs root (BPF, RLIMIT_NOFILE, ns_last_pid)"
[[ -x $FDWATCH ]] || die "$FDWATCH: not found (build it first: scripts/test.sh)"
command -v jq >/dev/null || die "jq not found (scripts/setup.sh --deps-only installs it)"

work=$(mktemp -d /tmp/fdwatch-soak.XXXXXX)
pids=()  # everything started here, killed on the way out
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null || true; done
  sleep 0.5
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  if ((keep)); then echo "soak: raw outputs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT
if [[ ! -x $STORM ]]; then
  STORM=$work/storm
  cc -O2 -pthread -o "$STORM" "$root/bench/storm.c" || die "cannot build bench/storm.c"
fi
# fdwatch's own fd ceiling must not be what the holder measures
ulimit -n "$((nfds + 1024))" 2>/dev/null ||
  die "cannot raise RLIMIT_NOFILE to $((nfds + 1024)) (hard limit $(ulimit -Hn); CAP_SYS_RESOURCE missing?): use --fds $(($(ulimit -Hn) - 1024)) or less"

# Waits until FILE contains a line matching REGEX; fails after SECS.
wait_line() {
  local file=$1 re=$2 secs=$3 i
  for ((i = 0; i < secs * 20; ++i)); do
    grep -qE "$re" "$file" 2>/dev/null && return 0
    sleep 0.05
  done
  return 1
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
now() { date +%s.%N; }

# ---- phase 1: seeding a process that already holds N fds ---------------------
# Memory per fd is the difference of two otherwise equal runs: -p on a sleeper,
# and -p on the holder.
seed_run() {  # PID OUT -> prints "launch_to_attached_s attached_to_status_s rss_kib open_fds"
  local pid=$1 out=$2 fw tl t0 t1
  tl=$(now)
  "$FDWATCH" -p "$pid" --no-stacks --interval 0.5 >/dev/null 2>"$out" &
  fw=$!
  pids+=("$fw")
  wait_line "$out" 'attached' 120 || die "fdwatch -p $pid did not attach (see $out)"
  t0=$(now)
  wait_line "$out" "^\[ *[0-9.]+s\] $pid " 600 || die "no status line from fdwatch -p $pid"
  t1=$(now)
  local rss; rss=$(rss_kib "$fw")
  local open; open=$(grep -E "^\[ *[0-9.]+s\] $pid " "$out" | head -1 | sed -E 's/.*: ([0-9]+) fds.*/\1/')
  kill -INT "$fw"
  wait "$fw" || true
  awk -v l="$tl" -v a="$t0" -v b="$t1" -v r="$rss" -v o="$open" 'BEGIN { printf "%.2f %.2f %s %s\n", a - l, b - a, r, o }'
}

sleep 3600 &
sleeper=$!
pids+=("$sleeper")
"$STORM" hold "$nfds" >"$work/hold1.out" 2>&1 &
holder=$!
pids+=("$holder")
wait_line "$work/hold1.out" "holding $nfds fds" 300 || die "storm hold $nfds failed: $(cat "$work/hold1.out")"
read -r base_attach _ base_rss _ < <(seed_run "$sleeper" "$work/seed-base.err")
read -r full_attach seed_s full_rss seed_open < <(seed_run "$holder" "$work/seed-full.err")
truth=$(fd_count "$holder")
kill "$holder"; wait "$holder" 2>/dev/null || true
echo "seed: $nfds fds held before attach"
printf '  launch to "attached": %.2f s (%.2f s for a 3-fd target: seeding took the difference)\n' \
  "$full_attach" "$base_attach"
printf '  first status line %.2f s after "attached"; it shows %s fds (/proc: %s)\n' "$seed_s" "$seed_open" "$truth"
awk -v b="$base_rss" -v f="$full_rss" -v n="$nfds" 'BEGIN {
  printf "  fdwatch RSS %.1f MiB (a 3-fd target: %.1f MiB): %.0f bytes per tracked fd (target <= 150)\n",
         f / 1024, b / 1024, (f - b) * 1024 / n }'

# ---- phase 2: the soak ---------------------------------------------------------
"$FDWATCH" top --json -d "$interval" >"$work/top.jsonl" 2>"$work/top.err" &
top_pid=$!
pids+=("$top_pid")
mkdir -m 0700 "$work/ring"
"$FDWATCH" record --ring 10m -a -o "$work/ring" 2>"$work/ring.err" &
ring_pid=$!
pids+=("$ring_pid")
wait_line "$work/ring.err" 'attached' 120 || die "record --ring did not attach (see $work/ring.err)"
wait_line "$work/top.jsonl" '"schema"' 120 || die "top --json gave no frame (see $work/top.err)"

"$STORM" churn "$churn" 2 >"$work/churn.out" 2>&1 &
churn_pid=$!
pids+=("$churn_pid")
"$STORM" forks "$procs" "$duration" >"$work/forks.out" 2>&1 &
forks_pid=$!
pids+=("$forks_pid")
"$STORM" pidreuse "$duration" >"$work/reuse.out" 2>&1 &
reuse_pid=$!
pids+=("$reuse_pid")
"$STORM" hold "$nfds" --cycle >"$work/hold2.out" 2>&1 &
holder=$!
pids+=("$holder")

printf '%6s | %-21s | %-21s | %s\n' "" "top --json (-a)" "record --ring 10m -a" "top's frame" | tee "$work/table.txt"
printf '%6s | %8s %6s %5s | %8s %6s %5s | %9s %8s %6s %8s\n' \
  t_s rss_MiB fds cpu% rss_MiB fds cpu% events/s lost procs held | tee -a "$work/table.txt"
samples=$((duration / interval))
prev_top=$(cpu_ticks "$top_pid") prev_ring=$(cpu_ticks "$ring_pid")
start=$(now)
for ((i = 1; i <= samples; ++i)); do
  sleep "$interval"
  ((i % 3 == 0)) && kill -USR1 "$holder" 2>/dev/null || true
  t=$(awk -v a="$start" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }')
  ct=$(cpu_ticks "$top_pid") cr=$(cpu_ticks "$ring_pid")
  frame=$(tail -1 "$work/top.jsonl")
  held=$(fd_count "$holder")
  printf '%6s | %8.1f %6s %5.0f | %8.1f %6s %5.0f | %9.0f %8s %6s %8s\n' "$t" \
    "$(awk -v k="$(rss_kib "$top_pid")" 'BEGIN { print k / 1024 }')" "$(fd_count "$top_pid")" \
    "$(awk -v d="$((ct - prev_top))" -v s="$interval" 'BEGIN { print d / s }')" \
    "$(awk -v k="$(rss_kib "$ring_pid")" 'BEGIN { print k / 1024 }')" "$(fd_count "$ring_pid")" \
    "$(awk -v d="$((cr - prev_ring))" -v s="$interval" 'BEGIN { print d / s }')" \
    "$(jq -r '.totals.events_per_s' <<<"$frame")" "$(jq -r '.lost_events' <<<"$frame")" \
    "$(jq -r '.totals.processes' <<<"$frame")" "$held" | tee -a "$work/table.txt"
  prev_top=$ct prev_ring=$cr
done

# ---- the verdicts ----------------------------------------------------------------
# Stop the storm, let the holder settle and the exited processes expire.
for p in "$forks_pid" "$reuse_pid" "$churn_pid"; do kill "$p" 2>/dev/null || true; done
sleep $((2 * interval))
frame=$(tail -1 "$work/top.jsonl")
held=$(fd_count "$holder")
echo
awk -v warm="$((samples / 5 + 1))" '
  NR > 2 && NR - 2 > warm {  # skip the header lines and the warm-up
    n++; x = $1; sx += x; sxx += x * x
    ya[n] = $2; yb[n] = $3; yc[n] = $5; yd[n] = $6; xs[n] = x
  }
  function slope(y,   i, sy, sxy) {
    sy = 0; sxy = 0
    for (i = 1; i <= n; i++) { sy += y[i]; sxy += xs[i] * y[i] }
    return (n * sxy - sx * sy) / (n * sxx - sx * sx)
  }
  END {
    if (n < 3) { print "slopes: too few samples after warm-up (raise --duration)"; exit }
    printf "slopes after warm-up (%d samples), per minute:\n", n
    printf "  top --json:  RSS %+.2f MiB/min, fds %+.2f/min\n", 60 * slope(ya), 60 * slope(yb)
    printf "  record:      RSS %+.2f MiB/min, fds %+.2f/min\n", 60 * slope(yc), 60 * slope(yd)
  }' <(sed 's/|//g' "$work/table.txt")
lost=$(jq -r '.lost_events' <<<"$frame")
row=$(jq -c --argjson p "$holder" '.rows[] | select(.pid == $p)' <<<"$frame")
echo "lost events: $lost"
echo "holder $holder: top shows $(jq -r '.fds' <<<"$row") fds, /proc $held, inexact $(jq -r '.inexact' <<<"$row")"
live=$(find /proc -mindepth 1 -maxdepth 1 -name '[0-9]*' | wc -l)
echo "tracked processes at the end: $(jq '[.rows[] | select(.exited | not)] | length' <<<"$frame") live" \
  "(/proc: $live), $(jq '[.rows[] | select(.exited)] | length' <<<"$frame") exited within their 5 s grace"
echo "short-lived: $(tail -1 "$work/forks.out" 2>/dev/null || echo "storm forks still running")"
echo "pid reuse: $(grep -c reused "$work/reuse.out" || true) pids handed out twice"
echo "flight recorder: $(grep -c 'postmortem bundle' "$work/ring.err" || true) bundles; $(tail -1 "$work/ring.err")"
