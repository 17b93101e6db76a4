#!/usr/bin/env bash
# fdwatch overhead benchmark: fd create+close loops, untraced vs traced,
# measured interleaved in one run.  See bench/README.md.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: sudo bench/run.sh [--iters N] [--reps R] [--kinds open,socket] [--untraced-only] [--keep]

For each loop kind, runs fdloop R times in each of six modes, interleaved:
  untraced     fdloop alone
  bpftrace     the peer: bpftrace keeping an fd map of fdloop (openat, socket
               and accept4 exits add, close entry deletes), attached first
  fdwatch -p   fdwatch -p PID --json attached to fdloop before it starts
               (call stacks on: the default for -p)
  -p nostack   the same with --no-stacks
  fdwatch -a   fdwatch -a --json (system-wide, stacks off) running while fdloop runs
  exporter     fdwatch exporter -a on a free loopback port, the same way
and prints median ns/op, the ratio to untraced and fdwatch's lost_events.

  --iters N        iterations per fdloop run (default 200000)
  --reps R         runs per mode, 1..20 (default 3)
  --kinds LIST     comma-separated loop kinds: open, socket (default both)
  --untraced-only  measure fdloop alone (no fdwatch, no root needed)
  --no-bpftrace    leave out the bpftrace mode (it is left out, with a note,
                   when bpftrace is not installed)
  --keep           keep the raw outputs and print where they are
Environment: FDWATCH (default build/fdwatch), FDLOOP (default build/bench/fdloop),
FDWATCH_ATTACH_TIMEOUT seconds to wait for fdwatch's "attached" line (default 5).
EOF
}

die() { echo "bench: $*" >&2; exit 1; }
bad_usage() { echo "bench: $*" >&2; exit 2; }

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FDWATCH=${FDWATCH:-$root/build/fdwatch}
FDLOOP=${FDLOOP:-$root/build/bench/fdloop}
ATTACH_TIMEOUT=${FDWATCH_ATTACH_TIMEOUT:-5}
# Safety cap for the system-wide run; it is normally ended by SIGINT.
SYS_DURATION=600

iters=200000 reps=3 kinds=open,socket untraced_only=0 keep=0 peer=1
while (($#)); do
  case $1 in
    --iters) [[ ${2:-} =~ ^[1-9][0-9]{0,8}$ ]] || bad_usage "--iters ${2:-}: want an integer in 1..999999999"
             iters=$2; shift 2 ;;
    --reps) [[ ${2:-} =~ ^([1-9]|1[0-9]|20)$ ]] || bad_usage "--reps ${2:-}: want an integer in 1..20"
            reps=$2; shift 2 ;;
    --kinds) [[ ${2:-} =~ ^(open|socket)(,(open|socket))*$ ]] || bad_usage "--kinds ${2:-}: want open,socket"
             kinds=$2; shift 2 ;;
    --untraced-only) untraced_only=1; shift ;;
    --keep) keep=1; shift ;;
    --no-bpftrace) peer=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
  esac
done
[[ $ATTACH_TIMEOUT =~ ^[0-9]+$ ]] || die "FDWATCH_ATTACH_TIMEOUT=$ATTACH_TIMEOUT: want whole seconds"

work=$(mktemp -d /tmp/fdwatch-bench.XXXXXX)
# Children still running; cleared once reaped so a recycled pid is never hit.
loop_pid='' fw_pid=''
cleanup() {
  [[ -z $fw_pid ]] || kill -INT "$fw_pid" 2>/dev/null || true
  [[ -z $loop_pid ]] || kill "$loop_pid" 2>/dev/null || true
  if ((keep)); then echo "bench: raw outputs kept in $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT

if ((!untraced_only)); then
  ((EUID == 0)) || die "needs root to trace (or use --untraced-only)"
  [[ -x $FDWATCH ]] || die "$FDWATCH: not found or not executable (build it first: scripts/test.sh)"
  # Captured first: with pipefail, `fdwatch | grep -q` can fail on SIGPIPE.
  help=$("$FDWATCH" --help 2>&1 || true)
  [[ $help != *"under construction"* ]] ||
    die "$FDWATCH is still the 'under construction' placeholder; nothing to measure"
fi
if [[ ! -x $FDLOOP ]]; then
  # bench/fdloop.c is one file with no deps; build it here rather than fail.
  FDLOOP=$work/fdloop
  cc -O2 -o "$FDLOOP" "$root/bench/fdloop.c" || die "cannot build bench/fdloop.c"
  echo "bench: built $root/bench/fdloop.c into $FDLOOP" >&2
fi

# A child that exited stays a zombie until `wait`; treat that as gone.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat%% *} != Z ]]
}

# wait_for PID FILE REGEX SECONDS: until FILE matches REGEX; fails if PID dies
# or time runs out.
wait_for() {
  local pid=$1 file=$2 re=$3 i
  for ((i = 0; i < $4 * 20; i++)); do
    grep -qiE "$re" "$file" 2>/dev/null && return 0
    alive "$pid" || return 1
    sleep 0.05
  done
  return 1
}

# wait_exit PID SECONDS: until PID is gone; fails on timeout.
wait_exit() {
  local i
  for ((i = 0; i < $2 * 20; i++)); do
    alive "$1" || return 0
    sleep 0.05
  done
  return 1
}

# Starts fdloop waiting for SIGUSR1; sets loop_pid.
start_loop() {
  # The redirection happens in the child after fork: remove the previous
  # run's file first, or wait_for could read its stale "waiting" line.
  rm -f "$work/loop.err" "$work/loop.out"
  "$FDLOOP" "$1" "$iters" >"$work/loop.out" 2>"$work/loop.err" &
  loop_pid=$!
  wait_for "$loop_pid" "$work/loop.err" 'waiting for SIGUSR1' 5 ||
    die "fdloop did not start: $(cat "$work/loop.err")"
}

# Releases fdloop, reaps it and sets res_ns to its ns/op.
finish_loop() {
  kill -USR1 "$loop_pid"
  local rc=0
  wait "$loop_pid" || rc=$?
  loop_pid=''
  ((rc == 0)) || die "fdloop exited $rc: $(cat "$work/loop.err")"
  res_ns=$(sed -n 's/.*"ns_per_op":\([0-9.]*\).*/\1/p' "$work/loop.out")
  [[ -n $res_ns ]] || die "fdloop printed no ns_per_op: $(cat "$work/loop.out")"
}

# Starts fdwatch with the given arguments and waits until it says it is
# attached; sets fw_pid.
warned_attach=0
start_fdwatch() {
  # Background jobs of a script start with SIGINT ignored; undo that, since
  # SIGINT is how the system-wide run is ended.
  rm -f "$work/fw.err" "$work/fw.json"
  env --default-signal=INT "$FDWATCH" "$@" --json >"$work/fw.json" 2>"$work/fw.err" &
  fw_pid=$!
  if ! wait_for "$fw_pid" "$work/fw.err" 'attached' "$ATTACH_TIMEOUT"; then
    alive "$fw_pid" || die "fdwatch $* exited early: $(head -c 2000 "$work/fw.err")"
    if ((!warned_attach)); then
      echo "bench: no 'attached' line from fdwatch after ${ATTACH_TIMEOUT}s; measuring anyway" >&2
      warned_attach=1
    fi
  fi
}

# Reaps fdwatch (stopping by itself, or told to) and sets res_lost to its
# lost_events.
finish_fdwatch() {
  if ! wait_exit "$fw_pid" 30; then
    echo "bench: fdwatch $1 still running 30s later; sending SIGINT" >&2
    kill -INT "$fw_pid" 2>/dev/null || true
    wait_exit "$fw_pid" 10 || die "fdwatch $1 ignores SIGINT"
  fi
  local rc=0
  wait "$fw_pid" || rc=$?
  fw_pid=''
  ((rc == 0)) || die "fdwatch $1 exited $rc: $(head -c 2000 "$work/fw.err")"
  # The top-level key comes before "processes" (schema order, and also
  # alphabetical order), so the first match is the one we want.
  local json re='"lost_events"[[:space:]]*:[[:space:]]*([0-9]+)'
  json=$(<"$work/fw.json")
  [[ $json =~ $re ]] || die "fdwatch $1 printed no lost_events (keep its JSON with --keep)"
  res_lost=${BASH_REMATCH[1]}
  # calls whose stack was skipped (reader behind) or lost, from the final note
  re='([0-9]+) call-stack records lost'
  res_stk=0
  [[ $(<"$work/fw.err") =~ $re ]] && res_stk=${BASH_REMATCH[1]}
  return 0
}

# Starts bpftrace's fd map of fdloop ($1 = its pid) and waits until it is
# attached; sets fw_pid (the peer is stopped like fdwatch -a).
start_bpftrace() {
  rm -f "$work/bt.out"
  env --default-signal=INT bpftrace "$root/bench/fdmap.bt" "$1" >"$work/bt.out" 2>&1 &
  fw_pid=$!
  wait_for "$fw_pid" "$work/bt.out" 'attached' 60 || die "bpftrace did not attach: $(head -c 2000 "$work/bt.out")"
}

# Each run_* measures one fdloop run of kind $1 into res_ns (and res_lost).
run_untraced() {
  start_loop "$1"
  finish_loop
}

run_pid() {
  start_loop "$1"
  start_fdwatch -p "$loop_pid"
  finish_loop
  # fdwatch -p ends by itself once its only target has exited.
  finish_fdwatch "-p"
}

run_pidns() {
  start_loop "$1"
  start_fdwatch -p "$loop_pid" --no-stacks
  finish_loop
  finish_fdwatch "-p --no-stacks"
}

# The floor: fdwatch attached and tracing another process (a sleep), the
# loop not a target: what any process pays while fdwatch runs on the host.
run_floor() {
  sleep 600 &
  local target=$!
  start_fdwatch -p "$target" --no-stacks
  start_loop "$1"
  finish_loop
  kill "$target"
  wait "$target" 2>/dev/null || true
  finish_fdwatch "-p (another process)"
}

run_bpftrace() {
  start_loop "$1"
  start_bpftrace "$loop_pid"
  finish_loop
  kill -INT "$fw_pid"
  wait_exit "$fw_pid" 30 || die "bpftrace ignores SIGINT"
  wait "$fw_pid" || true
  fw_pid=''
}

run_system() {
  start_loop "$1"
  start_fdwatch -a --duration "$SYS_DURATION"
  finish_loop
  kill -INT "$fw_pid"
  finish_fdwatch "-a"
}

# `fdwatch exporter` (system-wide, as a fleet runs it) on a free loopback
# port; lost events are read from a scrape after the loop.
run_exporter() {
  start_loop "$1"
  local port
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  rm -f "$work/fw.err"
  env --default-signal=INT "$FDWATCH" exporter -a --listen "127.0.0.1:$port" >/dev/null 2>"$work/fw.err" &
  fw_pid=$!
  wait_for "$fw_pid" "$work/fw.err" 'attached' "$ATTACH_TIMEOUT" ||
    die "fdwatch exporter did not attach: $(head -c 2000 "$work/fw.err")"
  finish_loop
  local metrics
  exec 3<>"/dev/tcp/127.0.0.1/$port" || die "cannot connect to the exporter"
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  metrics=$(cat <&3)
  exec 3<&-
  res_lost=$(sed -n 's/^fdwatch_events_lost_total \([0-9]*\).*/\1/p' <<<"$metrics")
  [[ -n $res_lost ]] || die "the exporter's scrape has no fdwatch_events_lost_total"
  kill -INT "$fw_pid"
  wait_exit "$fw_pid" 30 || die "fdwatch exporter ignores SIGINT"
  wait "$fw_pid" || true
  fw_pid=''
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {
  if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if ((peer && !untraced_only)) && ! command -v bpftrace >/dev/null; then
  echo "bench: bpftrace not found (apt-get install bpftrace); no peer column" >&2
  peer=0
fi
# bpftrace attaches its tracepoints through tracefs (fdwatch needs none); a
# fresh boot has it unmounted.
if ((peer)) && [[ ! -d /sys/kernel/tracing/events ]]; then
  mount -t tracefs tracefs /sys/kernel/tracing || die "cannot mount tracefs for bpftrace"
fi
modes=(untraced)
((untraced_only || !peer)) || modes+=(bpftrace)
((untraced_only)) || modes+=(floor pid pidns system exporter)
declare -A label=([untraced]="untraced" [bpftrace]="bpftrace" [floor]="not a target" [pid]="fdwatch -p"
                  [pidns]="-p nostack" [system]="fdwatch -a" [exporter]="exporter")

printf 'fdwatch overhead: %s iterations per run, %s runs per mode, interleaved\n' "$iters" "$reps"
printf 'kernel %s, %s CPUs\n\n' "$(uname -r)" "$(nproc)"
printf '%-7s %-12s %9s  %-8s %s\n' kind mode "ns/op" "ratio" \
  "runs (ns/op) / lost_events per run [/ calls without stack (of ITERS), -p only]"
IFS=, read -ra kind_list <<<"$kinds"
declare -A ns lost stk
for kind in "${kind_list[@]}"; do
  "$FDLOOP" --no-wait "$kind" $((iters / 10 + 1)) >/dev/null  # warm caches, not measured
  ns=() lost=() stk=()
  for ((r = 1; r <= reps; r++)); do
    for mode in "${modes[@]}"; do
      "run_$mode" "$kind"
      ns[$mode]+="$res_ns "
      [[ $mode == untraced || $mode == bpftrace ]] || lost[$mode]+="$res_lost "
      [[ $mode != pid ]] || stk[$mode]+="$res_stk "
    done
  done
  base=$(median <<<"${ns[untraced]}")
  for mode in "${modes[@]}"; do
    med=$(median <<<"${ns[$mode]}")
    ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
    detail="${ns[$mode]% }"
    [[ $mode == untraced || $mode == bpftrace ]] || detail+=" / ${lost[$mode]% }"
    [[ $mode != pid ]] || detail+=" / stacks lost ${stk[$mode]% }"
    printf '%-7s %-12s %9s  %-8s %s\n' "$kind" "${label[$mode]}" "$med" "${ratio}x" "$detail"
  done
done
