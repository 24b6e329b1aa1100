#!/usr/bin/env bash
# Makes a Debian 12 base image from Debian's packages, for machines that reach Debian's
# apt mirrors but no image registry, and imports it into podman (docs/deploy.md):
#
#   deploy/docker/base-image.sh [NAME]        # default localhost/emqxd-debian:12
#   podman build -f deploy/docker/Dockerfile --build-arg BASE=localhost/emqxd-debian:12 ...
#
# mmdebstrap's minbase variant (essential packages and apt: what debian:bookworm-slim
# holds), from the apt sources this machine uses. Does nothing when NAME exists.
set -euo pipefail
name="${1:-localhost/emqxd-debian:12}"
podman=(podman)
if podman image exists "$name"; then
  echo "base-image: $name exists"
  exit 0
fi
for tool in mmdebstrap podman; do
  command -v "$tool" >/dev/null || {
    echo "base-image: $tool is missing (apt-get install mmdebstrap podman)" >&2
    exit 1
  }
done
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# The machine's own apt sources (deb822 or one-line), so that a mirror or proxy it is
# configured for is used; Debian's default mirror otherwise.
sources=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [[ -s "$f" ]] && sources+=("$f")
done
mmdebstrap --variant=minbase --quiet \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  bookworm "$tmp/rootfs.tar" "${sources[@]:-http://deb.debian.org/debian}"
"${podman[@]}" import --change 'CMD ["/bin/bash"]' "$tmp/rootfs.tar" "$name" >/dev/null
echo "base-image: $name ($(du -h "$tmp/rootfs.tar" | cut -f1) uncompressed)"
