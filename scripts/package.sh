#!/usr/bin/env bash
# Builds emqxd's Debian package (deploy/CMakeLists.txt) and prints its path.
# Usage: scripts/package.sh [--no-build] [BUILD_DIR]
#   BUILD_DIR  default build-release, configured here without tests or bench when it does
#              not exist; an existing build tree (build/, say) is packaged as it is
#              configured: cpack takes only what install() names, the emqxd binary and
#              deploy/'s files. (ninja configures again when a CMakeLists.txt changed.)
#   --no-build packages the binary as it is, without building it first (the tests package
#              exactly the binary they ran).
# cpack itself builds nothing (CMAKE_SKIP_INSTALL_ALL_DEPENDENCY, CMakeLists.txt).
# Output: BUILD_DIR/packages/emqxd_<version>_amd64.deb and emqxd-dbgsym_..._amd64.ddeb.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
build=1
if [[ "${1:-}" == "--no-build" ]]; then
  build=0
  shift
fi
dir="${1:-build-release}"
if [[ ! -f "$dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMQXD_BUILD_TESTS=OFF \
    -DEMQXD_BUILD_BENCH=OFF >/dev/null
fi
if ((build)); then
  ninja -C "$dir" -j"$(nproc)" emqxd >/dev/null
elif [[ ! -x "$dir/server/emqxd" ]]; then
  echo "package: $dir/server/emqxd is not built" >&2
  exit 1
fi
rm -f "$dir"/packages/emqxd_*.deb "$dir"/packages/emqxd-dbgsym_*.ddeb
if ! (cd "$dir" && cpack -G DEB) >"$dir/cpack.log" 2>&1; then
  cat "$dir/cpack.log" >&2
  exit 1
fi
ls "$dir"/packages/emqxd_*.deb
