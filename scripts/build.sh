#!/bin/sh
# Configures and builds banger in ./build (or $1), with any extra CMake
# arguments after it, e.g. scripts/build.sh build-asan -DBANGER_SANITIZE=ON
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
[ $# -gt 0 ] && shift
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug "$@" > "$dir.configure.log" 2>&1 \
  || { cat "$dir.configure.log"; exit 1; }
rm -f "$dir.configure.log"
cmake --build "$dir" -j"$(nproc)"
