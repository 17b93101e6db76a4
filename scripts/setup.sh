#!/usr/bin/env bash
# One-time setup on Debian 12, as root: install the packages fdwatch needs
# (only those missing), build it, and run the bundled demo under fdwatch.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: sudo scripts/setup.sh [--no-demo | --deps-only]

  (no option)   install missing packages, build into build/, then run
                ./build/fdwatch -- ./build/demo/fdwatch_demo
  --no-demo     install and build, skip the demo
  --deps-only   only install missing packages
Environment: FDWATCH_JOBS build parallelism (default: nproc).
USAGE
}

demo=1 build=1
while (($#)); do
  case $1 in
    --no-demo) demo=0 ;;
    --deps-only) demo=0 build=0 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "fdwatch: setup: $1: unknown option" >&2; usage >&2; exit 2 ;;
  esac
  shift
done

# shellcheck source=scripts/deps.sh
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
fdw_ensure_deps
((build)) || exit 0
fdw_build
((demo)) || exit 0

if ((EUID != 0)); then
  echo "fdwatch: setup: the demo traces with BPF and needs root" >&2
  echo "hint: sudo $FDW_ROOT/scripts/setup.sh, or --no-demo" >&2
  exit 1
fi
cd "$FDW_ROOT"
echo
echo "demo: ./build/fdwatch -- ./build/demo/fdwatch_demo  (ends by itself in about 10 s)"
exec ./build/fdwatch -- ./build/demo/fdwatch_demo
