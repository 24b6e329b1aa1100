#!/usr/bin/env bash
# Checks every C++ file of the repository against .clang-format with clang-format 14
# (Debian 12's; scripts/install-deps.sh --ci installs it) and lists the files that differ.
# Changes nothing. Exits 1 when a file differs; the fix is the command it prints.
# Usage: scripts/check-format.sh [--verbose]   (--verbose also shows the diffs' lines)
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here"
clang_format="${CLANG_FORMAT:-clang-format-14}"
command -v "$clang_format" >/dev/null || { echo "check-format: $clang_format not found" >&2; exit 2; }

# Tracked and new files (not ignored: no build trees, no node_modules); outside git, every
# C++ file but the build trees'.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -co --exclude-standard -- '*.cpp' '*.hpp' '*.h' '*.cc' | sort)
else
  mapfile -t files < <(find . \( -path './build*' -o -name node_modules -o -path ./.git \) -prune \
    -o -type f \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' -o -name '*.cc' \) -print \
    | sed 's|^\./||' | sort)
fi

differ=()
for f in "${files[@]}"; do
  [[ -f "$f" ]] || continue  # deleted but still in the index
  if ! out=$("$clang_format" --style=file --dry-run -Werror "$f" 2>&1); then
    differ+=("$f")
    [[ "${1:-}" == "--verbose" ]] && echo "$out"
  fi
done

if ((${#differ[@]})); then
  printf 'check-format: %s\n' "${differ[@]}"
  echo "check-format: ${#differ[@]} of ${#files[@]} C++ files differ from .clang-format; fix them with"
  echo "  git ls-files '*.cpp' '*.hpp' '*.h' '*.cc' | xargs $clang_format --style=file -i"
  exit 1
fi
echo "check-format: all ${#files[@]} C++ files match .clang-format ($("$clang_format" --version | grep -o 'version [0-9.]*'))"
