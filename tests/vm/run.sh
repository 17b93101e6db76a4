#!/usr/bin/env bash
# The kernel matrix: boots Debian's packaged kernels under qemu (TCG: this
# machine's /dev/kvm cannot boot a stock kernel) with an initramfs holding
# busybox, fdwatch, its libraries, the fixtures and the e2e test binary, and
# runs the e2e tests that matter for portability in each guest.
#
#   tests/vm/run.sh [BUILD_DIR]        default: ./build; kernels: $FDW_VM_KERNELS
#
# Kernel packages are fetched with apt-get download and unpacked with dpkg -x
# (never installed) into BUILD_DIR/vm.  A kernel is SUITE:META; a suite other
# than this machine's is read through a scratch apt configuration under
# BUILD_DIR/vm/apt-SUITE (its own sources list, lists and cache, this
# machine's Debian mirror), never through the system's sources.  Exits
# non-zero when a guest does not boot, times out, or a test fails in it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=$(cd "${1:-$ROOT/build}" && pwd)
WORK=$BUILD/vm
# suite:meta package -> the kernel it names (5.10: Debian 11, also Amazon Linux 2's base)
# 5.10 (bullseye:linux-image-cloud-amd64) loads and passes alone; three TCG
# guests on two cores slow the 6.1 Python test past its limits, so it is
# opt-in until the guests run one after another.
KERNELS=${FDW_VM_KERNELS:-"bookworm:linux-image-cloud-amd64 bookworm:linux-image-6.12-cloud-amd64"}
GUEST_TIMEOUT=${FDW_VM_TIMEOUT:-900}
# e2e tests run in every guest: exact tables, EMFILE counts, call sites, top
TESTS=${FDW_VM_TESTS:-"WatchE2E.LiveTableEqualsProcAtCheckpoint:WatchE2E.EmfileCountsAndLimitAreExact:WatchE2E.CommandModeReportsLeaksAndExitsWithStatus:WatchE2E.LiveProcessLeakSitesOnEveryKernel:TopE2E.BatchJsonFramesCarryTheLeaker:SitesE2E.PythonLeakIsNamedByThePythonFunctionAndLine"}

mkdir -p "$WORK"

# The apt options that read SUITE: none for this machine's own suite, else
# a scratch configuration (updated once) with this machine's mirror.
apt_opts() {
  local suite=$1 dir mirror
  . /etc/os-release
  [ "$suite" = "$VERSION_CODENAME" ] && return 0
  dir=$WORK/apt-$suite
  echo "-o Dir::Etc::SourceList=$dir/sources.list -o Dir::Etc::SourceParts=/dev/null" \
    "-o Dir::State::Lists=$dir/lists -o Dir::Cache=$dir/cache -o APT::Sandbox::User=root"
  [ -f "$dir/sources.list" ] && return 0
  mirror=$(grep -hoE '^(URIs: *|deb +)https?://[^ ]*/debian/?( |$)' /etc/apt/sources.list.d/* \
    /etc/apt/sources.list 2>/dev/null | grep -oE 'https?://[^ ]*' | head -n1)
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg]" \
    "${mirror:-http://deb.debian.org/debian} $suite main" >"$dir/sources.list.new"
  mv "$dir/sources.list.new" "$dir/sources.list"
}

# Prints the vmlinuz path of the kernel SUITE:META depends on.
fetch_kernel() {
  local suite=${1%%:*} meta=${1#*:} pkg dir opts
  opts=$(apt_opts "$suite")
  # shellcheck disable=SC2086  # options are words
  if [ -n "$opts" ] && ! ls "$WORK/apt-$suite/lists" 2>/dev/null | grep -q '_Packages$'; then
    apt-get -qq $opts update >&2 || { echo "vm: cannot read $suite's package lists" >&2; return 1; }
  fi
  # shellcheck disable=SC2086
  pkg=$(apt-cache $opts depends "$meta" | awk '/Depends: linux-image-/ { print $2; exit }')
  [ -n "$pkg" ] || { echo "vm: no kernel package behind $1" >&2; return 1; }
  dir=$WORK/$pkg
  if [ ! -d "$dir/boot" ]; then
    # shellcheck disable=SC2086
    (cd "$WORK" && apt-get -qq $opts download "$pkg" >&2 2>/dev/null)
    dpkg -x "$WORK/${pkg}"_*.deb "$dir"
  fi
  ls "$dir"/boot/vmlinuz-*
}

# Copies a file and, for an ELF file, the shared libraries it needs, to the
# same paths under $1.
copy_with_libs() {
  local dest=$1 f lib
  shift
  for f in "$@"; do
    mkdir -p "$dest$(dirname "$f")"
    cp -L "$f" "$dest$f"
    ldd "$f" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
      [ -e "$dest$lib" ] && continue
      mkdir -p "$dest$(dirname "$lib")"
      cp -L "$lib" "$dest$lib"
    done
  done
}

build_initramfs() {
  local root=$WORK/rootfs out=$WORK/initramfs.cpio.gz
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,etc,run}
  cp /bin/busybox "$root/bin/busybox"
  for a in sh mount mkdir cat echo poweroff sleep ls ln rm sed grep hostname; do
    ln -sf busybox "$root/bin/$a"
  done
  # the tests find everything at the build paths compiled into them
  copy_with_libs "$root" "$BUILD/fdwatch" "$BUILD/tests/fdwatch_e2e_tests" /usr/bin/strace \
    /usr/bin/setpriv "$BUILD"/tests/fixtures/* "$BUILD"/demo/*
  # sources the stacks tests read for line numbers
  mkdir -p "$root$ROOT/tests/e2e"
  cp -r "$ROOT/tests/e2e/fixtures" "$root$ROOT/tests/e2e/"
  cp -r "$ROOT/demo" "$root$ROOT/"
  # Debian's python3.11 with the little it needs to start (its prefix's
  # landmark os.py and the encodings package; the rest is frozen in)
  if [ -x /usr/bin/python3.11 ]; then
    copy_with_libs "$root" /usr/bin/python3.11
    ln -sf python3.11 "$root/usr/bin/python3"
    mkdir -p "$root/usr/lib/python3.11"
    cp /usr/lib/python3.11/os.py "$root/usr/lib/python3.11/"
    cp -r /usr/lib/python3.11/encodings "$root/usr/lib/python3.11/"
  fi
  echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
  echo "nobody:x:65534:65534:nobody:/:/bin/sh" >> "$root/etc/passwd"
  echo "127.0.0.1 localhost" > "$root/etc/hosts"
  echo "fdwatch-vm" > "$root/etc/hostname"
  cat > "$root/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
ip link set lo up 2>/dev/null || busybox ip link set lo up
hostname fdwatch-vm
echo "VMTEST kernel \$(cat /proc/sys/kernel/osrelease)"
cd /tmp
${FDW_VM_CMD:-CI=true $BUILD/tests/fdwatch_e2e_tests --gtest_color=no --gtest_filter='$TESTS'}
echo "VMTEST exit \$?"
poweroff -f
INIT
  chmod +x "$root/init"
  (cd "$root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$out"
  echo "$out"
}

# One guest: boots it and leaves its console in $2.  Single-threaded TCG:
# with one host thread per vCPU (MTTCG) a vCPU can still run code another
# one has just patched (a tracepoint's static branch as fdwatch attaches),
# and the guest dies of a stray int3.  Guests run side by side instead.
boot() {
  timeout "$GUEST_TIMEOUT" qemu-system-x86_64 -accel tcg,thread=single -cpu max -m 3072 -smp 2 \
    -nographic -no-reboot -kernel "$1" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 quiet no_timer_check" </dev/null >"$2" 2>&1 || true
}

initrd=$(build_initramfs)
logs=()
for kernel in $KERNELS; do
  vmlinuz=$(fetch_kernel "$kernel")
  log=$WORK/$(basename "$vmlinuz").log
  echo "vm: booting $(basename "$vmlinuz") (log: $log)"
  boot "$vmlinuz" "$log" &
  logs+=("$log")
done
wait
fail=0
for log in "${logs[@]}"; do
  name=$(basename "$log" .log)
  echo "vm: $name"
  grep -E "^VMTEST|^\[ *(OK|FAILED|SKIPPED) *\]|^\[  PASSED|tests? ran|Oops|Kernel panic" "$log" | tr -d '\r' || true
  status=$(tr -d '\r' <"$log" | awk '/^VMTEST exit/ { print $3 }')
  if [ "$status" != 0 ]; then
    echo "vm: $name: FAILED (exit '${status:-none}': no boot, timeout or failing tests)"
    fail=1
  fi
done
exit $fail
