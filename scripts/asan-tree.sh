# Sourced by scripts/sanitize.sh (asan) and scripts/fuzz.sh: the one clang ASan+UBSan tree,
# build-asan/, with libFuzzer's coverage instrumentation everywhere (EMQXD_FUZZ), so that CI
# compiles the project once for both legs: the ASan leg builds and tests it, the fuzz leg
# only runs its fuzz_<target> binaries. -O1 with line tables: fast enough to fuzz and to
# test, stacks with file:line.
asan_tree=build-asan

configure_asan_tree() {
  # A tree configured by another compiler (an older GCC build-asan/) cannot switch in place.
  if [[ -f "$asan_tree/CMakeCache.txt" ]] &&
      ! grep -q '^CMAKE_CXX_COMPILER:.*clang++-14' "$asan_tree/CMakeCache.txt"; then
    rm -rf "$asan_tree"
  fi
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$asan_tree" -G Ninja \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
    -DEMQXD_SANITIZE=address,undefined -DEMQXD_FUZZ=ON -DEMQXD_BUILD_TESTS=ON \
    -DEMQXD_BUILD_BENCH=OFF >/dev/null
}
