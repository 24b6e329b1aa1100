#!/usr/bin/env bash
# On a fresh Debian 12 machine: install the build and test dependencies, build, and run
# the whole suite (unit, fuzz-smoke and integration tests with real clients) under ctest.
# Exits non-zero on any failure. Extra arguments go to ctest (e.g. -L unit, -R publish).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/install-deps.sh" --test
"$here/scripts/build.sh" -DEMQXD_BUILD_TESTS=ON
cd "$here/build"
ctest --output-on-failure --timeout 300 -j"$(nproc)" "$@"
