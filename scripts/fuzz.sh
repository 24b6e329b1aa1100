#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz/ with clang, ASan and UBSan in build-asan/
# (scripts/asan-tree.sh: the ASan leg's tree, so after it only the harnesses are left to
# build) and runs each for a bounded time from a copy of its seed corpus and regressions,
# one per core at a time.
# Usage: scripts/fuzz.sh [target...]   (default: all; tests/fuzz/README.md lists them)
# Env: EMQXD_FUZZ_SECONDS per target (default 30). Needs scripts/install-deps.sh --ci.
# Exits non-zero when a fuzzer finds a crash, a leak or a timeout: the input is left in
# build-fuzz/crashes/<target>/, to keep in tests/fuzz/regressions/<target>/.
# New inputs the fuzzers find go to build-fuzz/corpus/<target>/; the repo's seeds stay.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
seconds="${EMQXD_FUZZ_SECONDS:-30}"
targets=("$@")
((${#targets[@]})) || targets=(codec hocon storage cluster http auth modules discovery rules rule_def line_protocol mqttsn
  stomp coap lwm2m)

source scripts/asan-tree.sh
configure_asan_tree
ninja -C "$asan_tree" -j"$(nproc)" "${targets[@]/#/fuzz_}"

# Stacks with file:line need llvm-symbolizer (llvm-14).
export ASAN_SYMBOLIZER_PATH="${ASAN_SYMBOLIZER_PATH:-/usr/lib/llvm-14/bin/llvm-symbolizer}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
# One fuzzer per core at a time: the leg's wall time is the fuzzing time over the cores.
# Each writes its own log and, when done, its verdict; the reports follow in target order.
run_one() {
  local t="$1" work="build-fuzz/corpus/$1" crashes="build-fuzz/crashes/$1"
  mkdir -p "$work" "$crashes"
  local inputs=("$work" tests/fuzz/corpus/"$t")
  # A target no fuzzer ever crashed has no regressions/ folder (git keeps no empty ones).
  [[ -d tests/fuzz/regressions/$t ]] && inputs+=(tests/fuzz/regressions/"$t")
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or a huge allocation.
  if "$asan_tree"/tests/fuzz/fuzz_"$t" -max_total_time="$seconds" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$crashes/" "${inputs[@]}" \
      >"build-fuzz/fuzz-$t.log" 2>&1; then
    echo ok >"build-fuzz/fuzz-$t.status"
  else
    echo failed >"build-fuzz/fuzz-$t.status"
  fi
}
mkdir -p build-fuzz
for t in "${targets[@]}"; do
  rm -f "build-fuzz/fuzz-$t.status"
  while (($(jobs -rp | wc -l) >= $(nproc))); do wait -n || true; done
  echo "fuzz: $t for ${seconds}s"
  run_one "$t" &
done
wait
failed=()
for t in "${targets[@]}"; do
  if [[ "$(cat "build-fuzz/fuzz-$t.status" 2>/dev/null)" != ok ]]; then
    failed+=("$t")
    tail -n 80 "build-fuzz/fuzz-$t.log"
    echo "fuzz: $t FAILED; the input is in build-fuzz/crashes/$t/ (keep it in tests/fuzz/regressions/$t/)"
  else
    grep -E 'DONE +cov:' "build-fuzz/fuzz-$t.log" | sed "s/^/fuzz: $t: /" || true
  fi
done
if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: ${#targets[@]} targets ran ${seconds}s each with no finding"
