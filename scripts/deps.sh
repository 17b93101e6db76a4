# shellcheck shell=bash
# Shared by scripts/setup.sh and scripts/test.sh (sourced, not run): the
# Debian 12 packages fdwatch needs, installed only when missing, and the build.

# libbpf/bpftool/clang/llvm/libelf/zlib build the BPF side; CLI11,
# nlohmann-json, libdw, zstd, ncurses and prometheus-cpp (exposition + HTTP
# server of `fdwatch exporter`) the userspace; googletest the tests; prometheus
# (server, promtool) the exporter's integration tests.
# tmux, strace, bpftrace and chromium are tools used while developing and
# checking fdwatch; golang-go builds the Go fixture of the call-site tests;
# libclang-rt-14-dev is clang's libFuzzer (tests/fuzz); dwz makes the dwz'd debug
# file of a symbolizer test (Debian's -dbgsym packages are dwz'd); jq reads JSON in
# bench/soak.sh; qemu-system-x86, busybox-static and cpio boot the other
# kernels of tests/vm; scdoc builds the man page, dpkg-dev (dpkg-shlibdeps)
# the .deb, and man-db and bash-completion are what the package tests use;
# prometheus-cpp-dev serves the exporter, prometheus (and promtool) tests it.
FDW_PACKAGES=(
  libbpf-dev bpftool clang llvm libelf-dev zlib1g-dev libcli11-dev nlohmann-json3-dev
  googletest libgtest-dev libgmock-dev libdw-dev libzstd-dev zstd libncurses-dev
  pkg-config cmake make g++ tmux strace bpftrace chromium golang-go libclang-rt-14-dev jq dwz
  qemu-system-x86 busybox-static cpio scdoc dpkg-dev man-db bash-completion
  prometheus-cpp-dev prometheus
)

FDW_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FDW_BUILD=$FDW_ROOT/build

# Prints the packages of FDW_PACKAGES that are not installed, one a line.
fdw_missing_packages() {
  local installed
  # One dpkg-query for all; unknown names only complain on stderr.
  installed=$(dpkg-query -W -f='${Package} ${db:Status-Status}\n' "${FDW_PACKAGES[@]}" 2>/dev/null |
              awk '$2 == "installed" { print $1 }') || true
  local p
  for p in "${FDW_PACKAGES[@]}"; do
    grep -qxF "$p" <<<"$installed" || echo "$p"
  done
}

# Installs whatever is missing; does nothing (no apt-get at all) when every
# package is present.
fdw_ensure_deps() {
  command -v dpkg-query >/dev/null || {
    echo "fdwatch: setup: dpkg-query not found: this script supports Debian 12 only" >&2
    return 1
  }
  local missing
  mapfile -t missing < <(fdw_missing_packages)
  if ((${#missing[@]} == 0)); then
    echo "deps: all ${#FDW_PACKAGES[@]} packages present"
    return 0
  fi
  if ((EUID != 0)); then
    echo "fdwatch: setup: missing packages: ${missing[*]}: need root to install them" >&2
    echo "hint: sudo $FDW_ROOT/scripts/setup.sh --deps-only" >&2
    return 1
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get -o DPkg::Lock::Timeout=300 update
  apt-get -o DPkg::Lock::Timeout=300 install -y --no-install-recommends "${missing[@]}"
}

# The fuzzed reader stays fuzzed: a clang build of tests/fuzz (build-fuzz/),
# its corpus replayed (the crash reproducers kept there are the regression
# tests), then FDWATCH_FUZZ_SECONDS (default 60; 0 skips) of fuzzing from it.
# New inputs go to build-fuzz/corpus; a crash leaves its reproducer in
# build-fuzz/ and fails the run.
fdw_fuzz() {
  local secs=${FDWATCH_FUZZ_SECONDS:-60} jobs=${FDWATCH_JOBS:-$(nproc)}
  [[ $secs =~ ^[0-9]+$ ]] || { echo "fdwatch: FDWATCH_FUZZ_SECONDS=$secs: want whole seconds" >&2; return 2; }
  ((secs > 0)) || return 0
  local dir=$FDW_ROOT/build-fuzz src=$FDW_ROOT/tests/fuzz
  CC=clang CXX=clang++ cmake -S "$FDW_ROOT" -B "$dir" -DFDWATCH_FUZZ=ON -DFDWATCH_TESTS=OFF >/dev/null
  cmake --build "$dir" -j"$jobs" --target log_reader_fuzz record_fuzz python_fuzz elf_fuzz
  local fuzz=$dir/tests/fuzz/log_reader_fuzz seeds=$src/corpus
  "$fuzz" -runs=0 "$seeds"
  mkdir -p "$dir/corpus"
  (cd "$dir" && "$fuzz" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
     -dict="$src/log_reader.dict" -print_final_stats=1 corpus "$seeds") || return 1
  # What traced processes control (ring records, CPython records, ELF files):
  # a third of the log reader's time each (30 s of the default 60).
  local t each=$(((secs + 1) / 2))
  for t in record python elf; do
    fuzz=$dir/tests/fuzz/${t}_fuzz seeds=$src/corpus_$t
    "$fuzz" -runs=0 "$seeds" || return 1
    mkdir -p "$dir/corpus_$t"
    (cd "$dir" && "$fuzz" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 "corpus_$t" "$seeds") || return 1
  done
}

# Configures (first time, or after CMakeLists changes) and builds everything.
# FDWATCH_JOBS overrides the parallelism (default: nproc).
fdw_build() {
  local jobs=${FDWATCH_JOBS:-$(nproc)}
  cmake -S "$FDW_ROOT" -B "$FDW_BUILD"
  cmake --build "$FDW_BUILD" -j"$jobs"
}
