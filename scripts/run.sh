#!/usr/bin/env bash
# On a fresh Debian 12 machine: install the build dependencies, build, and run emqxd in
# the foreground on its embedded defaults (MQTT/TCP on 1883). Arguments go to
# `emqxd start`, e.g. scripts/run.sh -c deploy/emqx.conf
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
"$here/scripts/install-deps.sh"
"$here/scripts/build.sh" -DEMQXD_BUILD_TESTS=OFF
exec "$here/build/server/emqxd" start "$@"
