#!/usr/bin/env bash
# Installs missing packages, builds, and runs every test suite; exits with
# ctest's status.  Extra arguments go to ctest (e.g. -R unit).  As root the
# privileged and e2e suites run for real; with CI=true they fail instead of
# skipping when they cannot.
set -euo pipefail

# shellcheck source=scripts/deps.sh
source "$(dirname "${BASH_SOURCE[0]}")/deps.sh"
fdw_ensure_deps
fdw_build
# A tree that registers no tests is broken, not green.
exec ctest --test-dir "$FDW_BUILD" --output-on-failure --no-tests=error "$@"
