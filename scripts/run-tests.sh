#!/bin/sh
# Installs dependencies, builds banger, and runs the whole test suite twice:
# a normal build, then an ASan+UBSan build.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# Both builds share one download cache (Debian's cloud kernel package).
cache="$(pwd)/.test-cache"
scripts/build.sh build -DBANGER_TEST_CACHE="$cache"
(cd build && ctest --output-on-failure)
scripts/build.sh build-asan -DBANGER_SANITIZE=ON -DBANGER_TEST_CACHE="$cache"
# The Python tests load libbanger into an uninstrumented interpreter and the
# install test links an uninstrumented program against it: both need a
# normal build, which ran them above.
(cd build-asan && ctest --output-on-failure -E 'test-python|test-install')
# libFuzzer targets (tar/whiteout replay, manifest parsing): a short smoke
# run over their seed corpora, in a clang build. It is an optimised build
# without the test hooks, so that such a build is known to compile.
CC=clang scripts/build.sh build-fuzz -DBANGER_FUZZ=ON -DBANGER_TEST_CACHE="$cache" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
(cd build-fuzz && ctest --output-on-failure -L fuzz)
