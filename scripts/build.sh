#!/usr/bin/env bash
# Configures and builds emqxd (and its tests) into build/ with Ninja and ccache.
# Usage: scripts/build.sh [extra cmake -D options]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE="${EMQXD_BUILD_TYPE:-RelWithDebInfo}" "$@" >/dev/null
ninja -C build -j"$(nproc)"
