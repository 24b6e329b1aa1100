#!/usr/bin/env bash
# The test suite under sanitizers, each in a build directory of its own (-O1 with line
# tables, no benchmarks). Any sanitizer report stops the process it is in and fails its test.
#
#   scripts/sanitize.sh asan   ASan+UBSan with clang into build-asan/, the tree the fuzz leg
#                              reuses (scripts/asan-tree.sh): every unit test (fuzz replays
#                              included) and the integration tests that drive the codec, the
#                              channel, durable storage and the HTTP API through real
#                              sockets, against the ASan emqxd.
#   scripts/sanitize.sh tsan   TSan with GCC into build-tsan/: the unit tests that run threads (the
#                              cluster's membership, the API server, the retainer, storage,
#                              the authentication chain on its pool and JWKS thread, the
#                              actions' buffer workers).
#
# Extra arguments go to ctest. Expects the test dependencies (scripts/install-deps.sh --test).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
mode="${1:?usage: scripts/sanitize.sh asan|tsan [ctest args]}"
shift

# The integration tests of the ASan leg: malformed and byte-exact input (codec), publish,
# subscribe and session rules (channel), durable sessions and QoS 2 across restarts
# (storage), the HTTP API and `emqxd cluster`, takeovers across workers, the rule engine
# and the connectors (their threads, the MQTT bridge's clients), the gateways (MQTT-SN's
# and CoAP's connections outside the TCP path, STOMP's frames, CoAP's block-wise transfers
# and retransmissions); and of the cluster tests, sessions moving between nodes, rules
# made on one node, and gateway clients talking across nodes.
asan_cluster="test_sessions|test_rules|test_gateways"
asan_integration="test_robustness|test_conformance_review|test_publish|test_session"
asan_integration+="|test_durable|test_durable_qos2|test_api|test_takeover|test_retain|test_trace|test_ops_api"
asan_integration+="|test_admins|test_retainer_api|test_config_api|test_topic_stats|test_exclusive|test_rules"
asan_integration+="|test_connectors|test_connectors_db|test_bridge_mqtt|test_connectors_influx|test_connectors_rabbitmq|test_connectors_kafka"
asan_integration+="|test_mqttsn|test_stomp|test_coap|test_zmq|test_lwm2m|test_nng"

case "$mode" in
  asan)
    source scripts/asan-tree.sh
    configure_asan_tree
    dir="$asan_tree"
    ninja -C "$dir" -j"$(nproc)"  # everything: ctest needs every unit test binary
    tests="^([a-z]+_test|fuzz):|^integration:($asan_integration)\$|^cluster:($asan_cluster)\$"
    ;;
  tsan)
    dir=build-tsan
    cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" -DEMQXD_SANITIZE=thread \
      -DEMQXD_BUILD_TESTS=ON -DEMQXD_BUILD_BENCH=OFF >/dev/null
    ninja -C "$dir" -j"$(nproc)" cluster_test api_test broker_test storage_test auth_test \
      connectors_test
    tests="^(cluster_test|api_test|broker_test|storage_test|auth_test|connectors_test):"
    ;;
  *)
    echo "usage: scripts/sanitize.sh asan|tsan [ctest args]" >&2
    exit 2
    ;;
esac

# Stacks with file:line need llvm-symbolizer (llvm-14) for clang's ASan.
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}"
# halt_on_error: the first report ends the process with a non-zero status (emqxd's
# integration fixtures then fail on its exit code and show its log, report included).
export ASAN_OPTIONS="halt_on_error=1:detect_leaks=1:strict_init_order=1:check_initialization_order=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1"
# ASan keeps freed memory in quarantine and adds red zones, so the two tests that bound
# emqxd's RSS measure ASan, not emqxd: they run in the plain build only.
if [[ "$mode" == asan ]]; then
  export PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --deselect test_conformance_review.py::test_one_topic_alias_does_not_cost_megabytes --deselect test_conformance_review.py::test_unread_responses_do_not_grow_without_bound"
fi
cd "$dir"
ctest --output-on-failure --timeout 600 -j"$(nproc)" -R "$tests" "$@"
