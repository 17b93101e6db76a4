#!/usr/bin/env bash
# Installs missing packages, builds, runs every test suite, fuzzes the log
# reader for 60 s (scripts/deps.sh fdw_fuzz), then runs the e2e tests on
# Debian's other kernels (tests/vm/run.sh); exits non-zero if any failed.  Extra arguments go to ctest (e.g. -R unit) and skip the fuzzing
# unless FDWATCH_FUZZ_SECONDS is set.  As root the privileged and e2e suites
# run for real; with CI=true they fail instead of skipping when they cannot.
set -euo pipefail

# shellcheck source=scripts/deps.sh
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
fdw_ensure_deps
fdw_build
status=0
# A tree that registers no tests is broken, not green.
ctest --test-dir "$FDW_BUILD" --output-on-failure --no-tests=error "$@" || status=$?
if (($# == 0)) || [[ -n ${FDWATCH_FUZZ_SECONDS:-} ]]; then
  fdw_fuzz || status=1
fi
# The kernel matrix (tests/vm: Debian's 6.1 and 6.12 under qemu), as root.
if (($# == 0)) && ((EUID == 0)); then
  "$FDW_ROOT/tests/vm/run.sh" "$FDW_BUILD" || status=1
fi
exit "$status"
