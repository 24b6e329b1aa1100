#!/usr/bin/env bash
# A three-node emqxd cluster in containers on this machine, from a clean clone, in one
# command (docs/deploy.md, "Three containers"):
#
#   deploy/docker/cluster.sh up        # builds the image, starts n1, n2, n3, waits for one cluster
#   deploy/docker/cluster.sh status    # the members, as n1 sees them
#   deploy/docker/cluster.sh down      # stops and removes the containers and their network
#   deploy/docker/cluster.sh down -v   # ... and their data volumes
#
# `up` installs podman, podman-compose and mmdebstrap when they are missing (apt-get; root
# or sudo), makes a Debian 12 base image from Debian's packages when EMQXD_BASE names none
# (deploy/docker/base-image.sh: many machines reach apt but no image registry), builds the
# image (EMQXD_IMAGE, localhost/emqxd:latest) from deploy/docker/Dockerfile, runs `podman-compose up -d` on
# deploy/docker/compose.yaml and waits until n1 sees three running members.
#
# The image compiles emqxd in its build stage (about 15 minutes on 2 cores); with
# EMQXD_DEB_DIR=<folder in the repository holding emqxd_*.deb> (scripts/package.sh) it
# installs that package instead.
#
# Secrets: EMQXD_COOKIE (the cluster's) and EMQXD_PASSWORD (the dashboard's admin). When
# unset they are made at random the first time and kept in deploy/docker/.secrets (mode
# 0600, ignored by git), so that a restart finds the same ones; nothing prints them.
#
# Other settings, with compose.yaml's defaults: EMQXD_PROJECT (emqxd),
# EMQXD_N1_PORT/N2/N3 (1883-1885), EMQXD_WS_PORT (8083), EMQXD_API_PORT (18083),
# EMQXD_BASE, EMQXD_WAIT (seconds to wait for the cluster, 180).
#
# The members find each other by their service's name (emqxd@n1 ...), which podman's
# network DNS answers: the dnsname CNI plugin, installed here with podman.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
compose_file="$here/compose.yaml"
project="${EMQXD_PROJECT:-emqxd}"
secrets="$here/.secrets"

die() {
  echo "cluster.sh: $*" >&2
  exit 1
}

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

ensure_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman runc)
  [[ -x /usr/lib/cni/dnsname ]] || missing+=(golang-github-containernetworking-plugin-dnsname)
  command -v podman-compose >/dev/null || missing+=(podman-compose)
  if [[ -z "${EMQXD_BASE:-}" ]] && ! command -v mmdebstrap >/dev/null; then
    missing+=(mmdebstrap)
  fi
  if ((${#missing[@]})); then
    echo "cluster.sh: installing ${missing[*]}"
    as_root apt-get update -q >/dev/null
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null
  fi
}

load_secrets() {
  if [[ -z "${EMQXD_COOKIE:-}" || -z "${EMQXD_PASSWORD:-}" ]]; then
    if [[ ! -s "$secrets" ]]; then
      (
        umask 077
        printf 'EMQXD_COOKIE=%s\nEMQXD_PASSWORD=%s\n' \
          "$(head -c 24 /dev/urandom | base64 | tr -d '/+=')" \
          "$(head -c 12 /dev/urandom | base64 | tr -d '/+=')" >"$secrets"
      )
      echo "cluster.sh: made a cluster cookie and a dashboard password in $secrets"
    fi
    local line
    while IFS= read -r line; do
      case "$line" in
        EMQXD_COOKIE=*) : "${EMQXD_COOKIE:=${line#EMQXD_COOKIE=}}" ;;
        EMQXD_PASSWORD=*) : "${EMQXD_PASSWORD:=${line#EMQXD_PASSWORD=}}" ;;
      esac
    done <"$secrets"
  fi
  export EMQXD_COOKIE EMQXD_PASSWORD
}

# compose.yaml's ulimits, no more than this machine's hard limits allow.
set_limits() {
  local n
  n="$(ulimit -Hn)"
  [[ "$n" == unlimited || "$n" -gt 65536 ]] && n=65536
  export EMQXD_NOFILE="${EMQXD_NOFILE:-$n}"
  # emqxd runs a thread or two a core and a few more: 4096 is plenty, and some runtimes
  # refuse more than they themselves were given.
  n="$(ulimit -Hu)"
  [[ "$n" == unlimited || "$n" -gt 4096 ]] && n=4096
  export EMQXD_NPROC="${EMQXD_NPROC:-$n}"
}

compose() {
  podman-compose -p "$project" -f "$compose_file" "$@"
}

n1() {
  echo "${project}_n1_1"
}

# `emqxd ctl cluster status` on n1 ("3 members (3 alive)" ...); "" while it does not answer.
members() {
  podman exec -e EMQXD_API_PASSWORD="$EMQXD_PASSWORD" "$(n1)" \
    emqxd ctl -c /etc/emqxd/emqx.conf cluster status 2>/dev/null || true
}

up() {
  ensure_tools
  load_secrets
  set_limits
  if [[ -z "${EMQXD_BASE:-}" ]]; then
    export EMQXD_BASE=localhost/emqxd-debian:12
    "$here/base-image.sh" "$EMQXD_BASE"
  fi
  local package=(--build-arg PACKAGE=build)
  if [[ -n "${EMQXD_DEB_DIR:-}" ]]; then
    compgen -G "$repo/$EMQXD_DEB_DIR/emqxd_*.deb" >/dev/null ||
      die "EMQXD_DEB_DIR=$EMQXD_DEB_DIR holds no emqxd_*.deb (a folder inside the repository)"
    package=(--build-arg PACKAGE=context --build-arg "DEB_DIR=$EMQXD_DEB_DIR")
  fi
  # podman itself rather than `podman-compose build`, whose exit status is 0 whatever the
  # build did (podman-compose 1.0.3). Docker's image format keeps the HEALTHCHECK (podman's
  # OCI default drops it).
  podman build --format docker --network host \
    --ulimit "nofile=$EMQXD_NOFILE" --ulimit "nproc=$EMQXD_NPROC" \
    --build-arg "BASE=$EMQXD_BASE" "${package[@]}" \
    -f "$here/Dockerfile" -t "${EMQXD_IMAGE:-localhost/emqxd:latest}" "$repo"
  compose up -d --no-build
  local wait="${EMQXD_WAIT:-180}" start=$SECONDS out=""
  while ((SECONDS - start < wait)); do
    out="$(members)"
    if grep -q "^3 members (3 alive)" <<<"$out"; then
      echo "$out"
      echo "cluster.sh: three members up. MQTT on 127.0.0.1:${EMQXD_N1_PORT:-1883}," \
        "${EMQXD_N2_PORT:-1884}, ${EMQXD_N3_PORT:-1885}; dashboard" \
        "http://127.0.0.1:${EMQXD_API_PORT:-18083} (admin, the password in $secrets" \
        "or EMQXD_PASSWORD)"
      return 0
    fi
    sleep 2
  done
  echo "$out" >&2
  compose logs >&2 || true
  die "the three members did not form one cluster within ${wait}s (logs above)"
}

case "${1:-}" in
  up) up ;;
  status)
    load_secrets
    out="$(members)"
    [[ -n "$out" ]] || die "n1 ($(n1)) does not answer: is the cluster up?"
    echo "$out"
    ;;
  down)
    shift
    set_limits
    compose down "$@"
    podman network exists "${project}_emqxd" && podman network rm "${project}_emqxd" >/dev/null
    true
    ;;
  *)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    [[ "${1:-}" == -h || "${1:-}" == --help ]] || exit 2
    ;;
esac
