#!/usr/bin/env bash
# Installs everything emqxd needs to build and test on Debian 12, from Debian's packages
# (and MQTT.js from the npm registry for the integration tests). Idempotent; run as root
# or with sudo available. Usage: scripts/install-deps.sh [--test | --ci]
# --test: also what the test suite needs; --ci: also CI's extra legs (.ci/run): clang 14
# with libFuzzer (libclang-rt-14-dev) and llvm-symbolizer (llvm-14) for the ASan tree that
# scripts/sanitize.sh asan and scripts/fuzz.sh share (scripts/asan-tree.sh),
# clang-format 14 for scripts/check-format.sh.
set -euo pipefail

want_tests=0
want_ci=0
[[ "${1:-}" == "--test" ]] && want_tests=1
[[ "${1:-}" == "--ci" ]] && want_tests=1 && want_ci=1

build_pkgs=(
  build-essential cmake ninja-build ccache pkg-config file
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libssl-dev libpcre2-dev libcrypt-dev
  libspdlog-dev libfmt-dev libcli11-dev librocksdb-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libpq-dev libmariadb-dev libhiredis-dev librabbitmq-dev librdkafka-dev libzmq3-dev libnng-dev
)
test_pkgs=(
  catch2 mosquitto mosquitto-clients python3-paho-mqtt python3-pytest openssl python3-stomp
  libcoap3-bin python3-zmq nng-utils
  python3-grpcio python3-protobuf python3-jwt python3-cryptography python3-prometheus-client
  iproute2 util-linux
  postgresql mariadb-server redis-server influxdb rabbitmq-server python3-pika
  chromium chromium-driver python3-selenium
  podman runc mmdebstrap systemd python3-yaml dnsmasq-base python3-kubernetes etcd-server
  podman-compose golang-github-containernetworking-plugin-dnsname
)
ci_pkgs=(clang-14 libclang-rt-14-dev llvm-14 clang-format-14)

pkgs=("${build_pkgs[@]}")
((want_tests)) && pkgs+=("${test_pkgs[@]}")
((want_ci)) && pkgs+=("${ci_pkgs[@]}")
# Node.js may come from elsewhere (with its own npm); take Debian's only if there is none.
((want_tests)) && ! command -v npm >/dev/null && pkgs+=(nodejs npm)
# kubectl (for `kubectl kustomize`) likewise: another package's kubectl owns /usr/bin/kubectl
# on some machines, and Debian's kubernetes-client would collide with it.
((want_tests)) && ! command -v kubectl >/dev/null && pkgs+=(kubernetes-client)

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if ((want_tests)); then
  # MQTT.js for the integration tests, kept inside the repo's tests folder.
  here="$(cd "$(dirname "$0")/.." && pwd)"
  if [[ ! -d "$here/tests/integration/node_modules/mqtt" ]]; then
    (cd "$here/tests/integration" && npm install --no-audit --no-fund --silent)
  fi
fi
