#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The examples, run as a user would: bangerd on a private dbus-daemon with
# the fake VMM (hypervisor = "fake": each "VM" is the real guest agent on
# the host, no root or QEMU) and a tiny image; examples/watch-vms.sh
# watches while examples/vm-exec-async.c creates a VM, runs `echo hello` in
# it and deletes it. Then vm-exec-async --local on its own state directory,
# once to the end and once stopped by SIGINT.
# Every wait polls a condition against a deadline; whatever the test
# started is stopped on any exit.
# Needs: BANGER_CLI, BANGERD, BANGER_SOURCE_DIR, EXAMPLE_VM_EXEC_ASYNC, PYTHON3.
set -eu
. "$BANGER_SOURCE_DIR/tests/bangerd-harness.sh"
harness_readonly_system "$0" "$@"

example=$EXAMPLE_VM_EXEC_ASYNC
watcher=$BANGER_SOURCE_DIR/examples/watch-vms.sh
# Short: the agents' unix sockets live under the state directories.
work=$(mktemp -d "${TMPDIR:-/tmp}/bgr-ex-XXXXXX")
bus_pid= daemon_pid= watch_pid=

cleanup () {
  status=$?
  set +e
  [ -n "$watch_pid" ] && kill -- "-$watch_pid" 2>/dev/null
  harness_stop
  if [ $status -ne 0 ]; then
    for f in bangerd.log watch.out watch.err ex.out ex.err local.out local.err; do
      [ -s "$work/$f" ] && { echo "--- $f"; cat "$work/$f"; }
    done
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

harness_isolate

harness_fake_image
for name in daemon local; do
  cat > "$work/$name.toml" <<EOT
hypervisor = "fake"
web_listen_addr = ""
state_dir = "$work/$name-state"
cache_dir = "$work/$name-cache"
EOT
done

harness_start_bus
harness_start_bangerd "$work/daemon.toml" "$work/bangerd.log"
"$BANGER_CLI" image register --name img --rootfs "$work/rootfs.ext4" --kernel "$work/vmlinux" \
  > /dev/null || fail "image register through bangerd"

# The watcher, in its own process group (gdbus monitor | awk) so that
# cleanup stops all of it. It says on stderr when it is listening.
setsid sh "$watcher" > "$work/watch.out" 2> "$work/watch.err" &
watch_pid=$!
wait_for 30 "the watcher listens" grep -q '^watch-vms: watching bangerd' "$work/watch.err"

# The C example through bangerd.
status=0
"$example" --name ex-1 img echo hello > "$work/ex.out" 2> "$work/ex.err" || status=$?
[ $status -eq 0 ] || fail "vm-exec-async exited $status"
grep -qx hello "$work/ex.out" || fail "no 'hello' on the example's stdout"
grep -q '^  (1/[1-9][0-9]*) ' "$work/ex.err" || fail "the example printed no progress"
grep -qx 'deleted VM ex-1' "$work/ex.err" || fail "the example did not say it deleted the VM"
list=$("$BANGER_CLI" vm list --json) || fail "banger vm list --json"
[ "$(echo "$list" | tr -d ' \n\t')" = "[]" ] || fail "VMs left after the example: $list"

# What the watcher saw: ex-1 running, then removed, in that order.
wait_for 30 "the watcher saw ex-1 go" grep -qx 'ex-1: removed' "$work/watch.out"
running=$(grep -nx 'ex-1: running' "$work/watch.out" | head -n1 | cut -d: -f1)
removed=$(grep -nx 'ex-1: removed' "$work/watch.out" | head -n1 | cut -d: -f1)
starting=$(grep -nx 'ex-1: starting' "$work/watch.out" | head -n1 | cut -d: -f1)
[ -n "$running" ] || fail "the watcher never printed 'ex-1: running'"
[ -n "$starting" ] || fail "the watcher never printed 'ex-1: starting'"
[ "$starting" -lt "$running" ] || fail "the watcher printed running before starting"
[ "$running" -lt "$removed" ] || fail "the watcher printed removed before running"
grep -v '^ex-1: [a-z]*$' "$work/watch.out" && fail "the watcher printed something else"

# A failing command: its status and stderr come through, the VM still goes.
status=0
"$example" --name ex-2 img sh -c 'echo oops >&2; exit 3' > "$work/ex.out" 2> "$work/ex.err" || status=$?
[ $status -eq 3 ] || fail "vm-exec-async exited $status, not the command's 3"
grep -qx oops "$work/ex.err" || fail "the command's stderr did not come through"
wait_for 30 "the watcher saw ex-2 go" grep -qx 'ex-2: removed' "$work/watch.out"

# The Python example through bangerd (not in the sanitizer build, whose
# libbanger an uninstrumented python cannot load).
if [ -z "${BANGER_SANITIZED:-}" ]; then
  status=0
  PYTHONPATH="$BANGER_SOURCE_DIR/bindings/python" "$PYTHON3" \
    "$BANGER_SOURCE_DIR/examples/vm-exec.py" --name ex-py img sh -c 'echo hello; echo warn >&2' \
    > "$work/py.out" 2> "$work/py.err" || status=$?
  [ $status -eq 0 ] || fail "vm-exec.py exited $status: $(cat "$work/py.err")"
  grep -qx hello "$work/py.out" || fail "no 'hello' on vm-exec.py's stdout"
  grep -qx warn "$work/py.err" || fail "the command's stderr did not stream through vm-exec.py"
  grep -q '^  (1/[1-9][0-9]*) ' "$work/py.err" || fail "vm-exec.py printed no progress"
  wait_for 30 "the watcher saw ex-py go" grep -qx 'ex-py: removed' "$work/watch.out"
  grep -qx 'ex-py: running' "$work/watch.out" || fail "the watcher never saw ex-py running"
fi

# Ctrl-C while the command runs through bangerd: the exec is cancelled
# through its operation object at once (not when the command ends).
"$example" --name ex-dint img sh -c 'echo started; exec sleep 600' \
  > "$work/dint.out" 2> "$work/dint.err" &
int_pid=$!
wait_for 30 "the command started through bangerd" grep -qx started "$work/dint.out"
kill -INT "$int_pid"
wait_for 20 "vm-exec-async (D-Bus) to end after SIGINT" sh -c '! kill -0 "$1" 2>/dev/null' sh "$int_pid"
status=0
wait "$int_pid" || status=$?
[ $status -ne 0 ] || fail "vm-exec-async (D-Bus) exited 0 after SIGINT"
grep -qx 'deleted VM ex-dint' "$work/dint.err" || fail "the VM was not deleted after SIGINT (D-Bus)"

# --local: an engine in the example's own process, on its own state.
export BANGER_CONFIG="$work/local.toml"
"$BANGER_CLI" --local image register --name img --rootfs "$work/rootfs.ext4" \
  --kernel "$work/vmlinux" > /dev/null || fail "image register --local"
status=0
"$example" --local --name ex-local img echo hello > "$work/local.out" 2> "$work/local.err" || status=$?
[ $status -eq 0 ] || fail "vm-exec-async --local exited $status"
grep -qx hello "$work/local.out" || fail "no 'hello' from vm-exec-async --local"
list=$("$BANGER_CLI" --local vm list --json) || fail "banger --local vm list --json"
[ "$(echo "$list" | tr -d ' \n\t')" = "[]" ] || fail "VMs left after --local: $list"
# Ctrl-C while the command runs: the exec is cancelled and the VM deleted.
"$example" --local --name ex-int img sh -c 'echo started; exec sleep 600' \
  > "$work/local.out" 2> "$work/local.err" &
int_pid=$!
wait_for 30 "the --local command started" grep -qx started "$work/local.out"
kill -INT "$int_pid"
wait_for 30 "vm-exec-async to end after SIGINT" sh -c '! kill -0 "$1" 2>/dev/null' sh "$int_pid"
status=0
wait "$int_pid" || status=$?
[ $status -ne 0 ] || fail "vm-exec-async exited 0 after SIGINT"
grep -q '^vm-exec-async: exec: ' "$work/local.err" || fail "no exec error after SIGINT"
grep -qx 'deleted VM ex-int' "$work/local.err" || fail "the VM was not deleted after SIGINT"
list=$("$BANGER_CLI" --local vm list --json) || fail "banger --local vm list --json"
[ "$(echo "$list" | tr -d ' \n\t')" = "[]" ] || fail "VMs left after SIGINT: $list"
# bangerd's state never saw it.
grep -q 'ex-local' "$work/watch.out" && fail "the watcher saw the --local VM"
[ ! -e "$work/daemon-state/vms/ex-local" ] || fail "the --local VM went to bangerd's state"

echo "ok: vm-exec-async (D-Bus and --local), vm-exec.py and watch-vms.sh"
