#!/bin/sh
# Installs dependencies, builds banger, and runs what banger does today:
# starts bangerd on a private D-Bus session bus, asks it for its status and
# its configuration, and runs `banger doctor` against this host.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build

exec dbus-run-session -- sh -eu -c '
  banger=build/cli/banger
  build/daemon/bangerd --session &
  daemon=$!
  # Wait (at most 30 s) until bangerd answers.
  i=0
  until $banger daemon status > /dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 $daemon 2>/dev/null; then
      echo "bangerd did not start" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "== banger daemon status"; $banger daemon status
  echo; echo "== banger config show"; $banger config show
  echo; echo "== banger doctor"; status=0; $banger doctor || status=$?
  echo; echo "== banger daemon stop"; $banger daemon stop
  wait $daemon
  exit $status
'
