#!/usr/bin/env bash
# Start and stop cost: `fdwatch -p PID` from exec to its "attached" line, and
# from SIGINT to its exit, against bpftrace running an fd-map script with the
# same job (open/socket/accept4 exits, close entry) in the same run,
# interleaved.  Prints medians and ratios.  See bench/README.md.
#
#   sudo bench/startstop.sh [--reps R]       (default 5)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FDWATCH=${FDWATCH:-$root/build/fdwatch}
reps=5
while (($#)); do
  case $1 in
    --reps) [[ ${2:-} =~ ^([1-9]|1[0-9]|20)$ ]] || { echo "bench: --reps: want 1..20" >&2; exit 2; }
            reps=$2; shift 2 ;;
    *) echo "usage: sudo bench/startstop.sh [--reps R]" >&2; exit 2 ;;
  esac
done
command -v bpftrace >/dev/null || { echo "bench: bpftrace not found (apt-get install bpftrace)" >&2; exit 1; }

# bpftrace attaches its tracepoints through tracefs (fdwatch needs none); a
# fresh boot has it unmounted.
[[ -d /sys/kernel/tracing/events ]] || mount -t tracefs tracefs /sys/kernel/tracing ||
  { echo "bench: cannot mount tracefs for bpftrace" >&2; exit 1; }

work=$(mktemp -d /tmp/fdwatch-startstop.XXXXXX)
sleep 1000 & target=$!
trap 'kill $target 2>/dev/null; rm -rf "$work"' EXIT

now() { date +%s%N; }

# run_one NAME CMD...: prints "attach_ns exit_ns" of one start and stop.
run_one() {
  local err=$work/err t0 t1 t2 pid
  : >"$err"
  t0=$(now)
  "$@" >"$err" 2>&1 &
  pid=$!
  until grep -q attached "$err"; do
    kill -0 $pid 2>/dev/null || { echo "bench: $1 exited before attaching: $(cat "$err")" >&2; exit 1; }
    sleep 0.005
  done
  t1=$(now)
  t2=$(now)
  kill -INT $pid
  wait $pid || true
  echo "$((t1 - t0)) $(($(now) - t2))"
}

median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

for ((i = 0; i < reps; i++)); do
  run_one "$FDWATCH" -p $target --interval 3600 >>"$work/fdwatch"
  run_one bpftrace "$(dirname "${BASH_SOURCE[0]}")/fdmap.bt" $target >>"$work/bpftrace"
done

printf '%-10s %10s %10s %10s\n' tool attach_ms exit_ms total_ms
for t in fdwatch bpftrace; do
  a=$(awk '{ print $1 }' "$work/$t" | median)
  e=$(awk '{ print $2 }' "$work/$t" | median)
  printf '%-10s %10.0f %10.0f %10.0f\n' $t "$(echo "$a / 1000000" | bc -l)" "$(echo "$e / 1000000" | bc -l)" \
    "$(echo "($a + $e) / 1000000" | bc -l)"
  eval "${t}_total=$(echo "$a + $e" | bc)"
done
printf 'fdwatch / bpftrace (start+stop, medians of %d): %.2fx\n' "$reps" \
  "$(echo "$fdwatch_total / $bpftrace_total" | bc -l)"
