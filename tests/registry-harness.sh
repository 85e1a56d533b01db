# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the shell tests that push to a real docker-registry
# (test-image-pull.sh, test-pull-layers.sh). The test sets $work and a
# fail() first; start_registry sets $host (127.0.0.1:PORT) and
# $registry_pid, and returns once the registry answers.

start_registry () {
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  host=127.0.0.1:$port
  cat > "$work/registry.yml" <<EOT
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: $host
EOT
  docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
  registry_pid=$!
  python3 - "$host" <<'PY' || fail "registry did not start: $(cat "$work/registry.log")"
import sys, time, urllib.request
deadline = time.monotonic() + 30
while True:
    try:
        urllib.request.urlopen("http://%s/v2/" % sys.argv[1], timeout=2)
        break
    except Exception:
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.05)
PY
}
