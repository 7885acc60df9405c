#!/usr/bin/env bash
# Checks that the addons' C++ (addons/**/*.cc and *.h, outside node_modules and build output)
# is formatted as .clang-format says; prints the differences and fails otherwise. To fix:
#   clang-format -i <the files it names>
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(
  find addons \( -name node_modules -o -name build \) -prune -o \
    -type f \( -name '*.cc' -o -name '*.h' \) -print | sort
)
if [ "${#files[@]}" -eq 0 ]; then
  echo "check-cpp-format: no C++ files found under addons/" >&2
  exit 1
fi
clang-format --dry-run --Werror "${files[@]}"
echo "check-cpp-format: ${#files[@]} files formatted as .clang-format says"
