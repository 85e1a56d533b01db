#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Sessions as a user sees them: bangerd on a private dbus-daemon with the
# fake VMM (each "VM" is the real guest agent on the host). A session
# writing a line every 10 ms runs on through a kill -9 of bangerd, and
# after a restart its logs hold every line, without a gap; a pipe-mode
# session started before the kill is attached again after it. Attach is
# exclusive (over D-Bus and over the attach socket, which speaks
# stdio_mux_v1 without D-Bus), and bad input changes nothing.
# Every wait polls a condition against a deadline.
# Needs: BANGER_CLI, BANGERD, BANGER_SOURCE_DIR, BANGER_LIBRARY, PYTHON3.
set -eu
. "$BANGER_SOURCE_DIR/tests/bangerd-harness.sh"
harness_readonly_system "$0" "$@"

cli=$BANGER_CLI
work=$(mktemp -d "${TMPDIR:-/tmp}/bgr-ss-XXXXXX")
bus_pid= daemon_pid= attach_pid=

cleanup () {
  status=$?
  set +e
  [ -n "$attach_pid" ] && kill "$attach_pid" 2>/dev/null
  harness_stop
  if [ $status -ne 0 ]; then
    for f in bangerd.log bangerd2.log out err; do
      [ -s "$work/$f" ] && { echo "--- $f"; tail -c 4000 "$work/$f"; }
    done
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# must_fail EXPECTED-TEXT COMMAND...: fails, and says EXPECTED-TEXT on stderr.
must_fail () {
  want=$1
  shift
  if "$@" > "$work/out" 2> "$work/err"; then
    fail "succeeded: $*"
  fi
  grep -qF -- "$want" "$work/err" || fail "'$*' did not say '$want': $(cat "$work/err")"
}

harness_isolate

harness_fake_image
cat > "$work/daemon.toml" <<EOT
hypervisor = "fake"
web_listen_addr = ""
state_dir = "$work/state"
cache_dir = "$work/cache"
EOT
harness_start_bus

start_daemon () { harness_start_bangerd "$work/daemon.toml" "$work/$1"; }
start_daemon bangerd.log
"$cli" image register --name img --rootfs "$work/rootfs.ext4" --kernel "$work/vmlinux" > /dev/null \
  || fail "image register"
"$cli" vm create --name v --image img > /dev/null || fail "vm create"

# json FIELD < JSON: one top-level field.
json () { "$PYTHON3" -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
session_field () { "$cli" --json vm session show v "$1" | json "$2"; }

# ---- start, its checks, bad input -----------------------------------------
"$cli" vm session start v --name ticker -- sh -c \
  'i=0; while :; do echo $i; i=$((i+1)); sleep 0.01; done' > "$work/out" || fail "start ticker"
grep -q '^state: *running' "$work/out" || fail "start did not show a running session"
"$cli" vm session start v --name cat1 --stdin-mode pipe -- cat > /dev/null || fail "start cat1"
"$cli" vm session start v --name cat2 --stdin-mode pipe -- cat > /dev/null || fail "start cat2"
"$cli" vm session start v --name later --stdin-mode pipe -- cat > /dev/null || fail "start later"
"$cli" vm session start v --name quiet -- sleep 1000 > /dev/null || fail "start quiet"

must_fail "no VM named 'nope'" "$cli" vm session list nope
must_fail "has no session 'ghost'" "$cli" vm session show v ghost
must_fail "VM 'v' has no session 'ghost'" "$cli" vm session attach v ghost
must_fail "VM 'v' has no session 'ghost'" "$cli" vm session kill v ghost
must_fail "VM 'v' has no session 'ghost'" "$cli" vm session logs v ghost
must_fail "session 'ticker' is already running" "$cli" vm session start v --name ticker -- true
must_fail "working directory '/no/such/dir' does not exist" \
  "$cli" vm session start v --name bad1 --cwd /no/such/dir -- true
must_fail "command 'no-such-command-x' not found" "$cli" vm session start v --name bad2 -- no-such-command-x
must_fail "required command 'no-such-tool-y' not found" \
  "$cli" vm session start v --name bad3 --require-command sh --require-command no-such-tool-y -- true
must_fail "unknown stdin mode 'sideways'" \
  "$cli" vm session start v --name bad4 --stdin-mode sideways -- true
must_fail "invalid session name" "$cli" vm session start v --name '../x' -- true
big=$(head -c 100000 /dev/zero | tr '\0' a)
must_fail "too large" "$cli" vm session start v --name bad5 --env "A=$big" --env "B=$big" \
  --env "C=$big" -- true
must_fail "no stdin to attach to" "$cli" vm session attach v quiet
names=$("$cli" --json vm session list v | "$PYTHON3" -c \
  'import json,sys; print(" ".join(sorted(s["name"] for s in json.load(sys.stdin))))')
[ "$names" = "cat1 cat2 later quiet ticker" ] || fail "failed starts left sessions: $names"

# A command line with terminal escapes: shown escaped.
"$cli" vm session start v --name esc -- sh -c "$(printf 'true \033]0;pwned\007')" > /dev/null \
  || fail "start esc"
"$cli" vm session list v > "$work/out" || fail "session list"
if grep -q "$(printf '\033')" "$work/out"; then fail "raw escape in session list"; fi
grep -qF '\x1b]0;pwned\x07' "$work/out" || fail "the escaped command is not shown"

# ---- attach ---------------------------------------------------------------
out=$(echo hi | "$cli" vm session attach v cat1) || fail "attach cat1 exited $?"
[ "$out" = hi ] || fail "attach printed '$out', not 'hi'"
[ "$(session_field cat1 state)" = exited ] || fail "cat1 did not exit after stdin's end"

# Exclusive: a held attach refuses a second, over D-Bus and the socket.
mkfifo "$work/fifo"
"$cli" vm session attach v cat2 < "$work/fifo" > "$work/attach.out" 2>&1 &
attach_pid=$!
exec 9> "$work/fifo"
attached () { [ "$(session_field cat2 attached)" = True ]; }
wait_for 20 "cat2 is attached" attached
must_fail "is attached already, by pid $attach_pid" "$cli" vm session attach v cat2
cat > "$work/mux.py" <<'EOT'
import socket, struct, sys
def frame(s):
    h = b""
    while len(h) < 5:
        c = s.recv(5 - len(h))
        if not c: raise SystemExit("connection closed")
        h += c
    t, n = h[0], struct.unpack("<I", h[1:])[0]
    d = b""
    while len(d) < n: d += s.recv(n - len(d))
    return t, d
def send(s, t, d=b""): s.sendall(bytes([t]) + struct.pack("<I", len(d)) + d)
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
t, d = frame(s); assert (t, d) == (0x80, b"stdio_mux_v1"), (t, d)
send(s, 0x01, sys.argv[2].encode() + b"\0" + sys.argv[3].encode())
t, d = frame(s)
if t == 0x86: print("ERROR " + d.decode()); raise SystemExit(0)
assert t == 0x81, t
send(s, 0x03, struct.pack("<HH", 24, 80))
if sys.argv[4] == "--detach":
    send(s, 0x04)
    t, d = frame(s)
    print("DETACHED" if t == 0x85 else "frame %x" % t)
    raise SystemExit(0)
if sys.argv[4] == "--winsize":
    send(s, 0x03, struct.pack("<HH", int(sys.argv[5]), int(sys.argv[6])))
else:
    send(s, 0x02, sys.argv[4].encode()); send(s, 0x02)
out = b""
while True:
    t, d = frame(s)
    if t == 0x82: out += d
    elif t == 0x84: print("EXIT %d %s" % (struct.unpack("<i", d)[0], out.decode().strip())); break
    elif t != 0x83: raise SystemExit("unexpected frame %x" % t)
EOT
sock="$work/state/run/attach.sock"
mux=$("$PYTHON3" "$work/mux.py" "$sock" v cat2 x) || fail "mux client"
case $mux in
  "ERROR session 'cat2' of VM 'v' is attached already, by pid $attach_pid"*) ;;
  *) fail "the attach socket did not refuse a second attach: $mux" ;;
esac
echo bye >&9
exec 9>&-
wait "$attach_pid" || fail "the first attach exited $?"
attach_pid=
grep -qx bye "$work/attach.out" || fail "the first attach did not print 'bye'"
"$cli" vm session start v --name cat3 --stdin-mode pipe -- cat > /dev/null || fail "start cat3"
mux=$("$PYTHON3" "$work/mux.py" "$sock" v cat3 "through the socket") || fail "mux client"
[ "$mux" = "EXIT 0 through the socket" ] || fail "attach over the socket: $mux"

# Detaching over D-Bus leaves the session running: Ctrl-] on a terminal
# (script(1) gives the CLI one), and the C API's cancellable through
# Python (not in the sanitizer build, whose libbanger an uninstrumented
# python cannot load).
"$cli" vm session start v --name cat4 --stdin-mode pipe -- cat > /dev/null || fail "start cat4"
cat4_attached () { [ "$(session_field cat4 attached)" = True ]; }
{ wait_for 20 "cat4 is attached" cat4_attached; printf '\035'; } |
  script -qec "$cli vm session attach v cat4" /dev/null > "$work/tty.out" 2>&1 \
  || fail "attach on a terminal exited $?: $(cat "$work/tty.out")"
grep -q "detached from session 'cat4'; it keeps running" "$work/tty.out" \
  || fail "Ctrl-] did not detach: $(cat "$work/tty.out")"
[ "$(session_field cat4 state)" = running ] || fail "cat4 does not run after Ctrl-]"
[ "$(session_field cat4 attached)" = False ] || fail "cat4 is still attached after Ctrl-]"
[ -n "${BANGER_SANITIZED:-}" ] ||
PYTHONPATH="$BANGER_SOURCE_DIR/bindings/python" "$PYTHON3" - <<'EOT' || fail "detach over D-Bus"
import threading, time
import banger
client = banger.Client.dbus()
d = banger.Detach()
def detach_once_attached():
    deadline = time.monotonic() + 20
    while not client.vm_session_get("v", "cat4")["attached"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    d.detach()
t = threading.Thread(target=detach_once_attached)
t.start()
status, out, err = client.vm_session_attach("v", "cat4", detach=d)
t.join()
assert status is None, status
s = client.vm_session_get("v", "cat4")
assert s["state"] == "running" and not s["attached"], s
EOT

mux=$("$PYTHON3" "$work/mux.py" "$sock" v cat4 --detach) || fail "mux client"
[ "$mux" = DETACHED ] || fail "DETACH over the attach socket: $mux"
[ "$(session_field cat4 state)" = running ] || fail "cat4 does not run after DETACH"

# A session on a terminal takes the socket's WINSIZE (the guest's SIGWINCH).
"$cli" vm session start v --name term --tty --stdin-mode pipe -- \
  sh -c "trap 'stty size; exit 7' WINCH; echo ready; while :; do sleep 0.05; done" \
  < /dev/null > /dev/null || fail "start term"
term_ready () { "$cli" vm session logs v term | grep -q ready; }
wait_for 20 "term is ready" term_ready
mux=$("$PYTHON3" "$work/mux.py" "$sock" v term --winsize 33 99) || fail "mux client"
[ "$mux" = "EXIT 7 33 99" ] || fail "WINSIZE over the attach socket: $mux"

# ---- kill -9 of bangerd ---------------------------------------------------
spool=$(ls -d "$work"/state/run/*/agent.sock.sessions/ticker) || fail "no ticker spool"
size_at_kill=$(stat -c %s "$spool/stdout")
kill -9 "$daemon_pid"
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=
grown () { [ "$(stat -c %s "$spool/stdout")" -gt $((size_at_kill + 200)) ]; }
wait_for 20 "the ticker writes while bangerd is down" grown
start_daemon bangerd2.log

[ "$(session_field ticker state)" = running ] || fail "ticker is not running after the restart"
"$cli" vm session logs v ticker > "$work/ticker.out" || fail "session logs"
"$PYTHON3" - "$work/ticker.out" "$size_at_kill" <<'EOT' || fail "ticker's log has a gap"
import sys
data = open(sys.argv[1], "rb").read()
lines = data.split(b"\n")[:-1]
assert len(data) > int(sys.argv[2]) + 200, (len(data), sys.argv[2])
for i, l in enumerate(lines):
    assert l == str(i).encode(), (i, l)
EOT
tail=$("$cli" vm session logs v ticker --tail 2 | wc -l)
[ "$tail" -eq 2 ] || fail "--tail 2 printed $tail lines"
out=$(echo again | "$cli" vm session attach v later) || fail "attach after the restart"
[ "$out" = again ] || fail "attach after the restart printed '$out'"

# ---- stop and kill --------------------------------------------------------
"$cli" --json vm session stop v ticker > "$work/out" || fail "session stop"
[ "$(json signal < "$work/out")" = 15 ] || fail "stop did not end ticker with SIGTERM"
"$cli" vm session kill v quiet > "$work/out" || fail "session kill"
grep -q 'exited (signal 9)' "$work/out" || fail "kill did not show signal 9"
"$cli" vm session logs v ticker --follow > /dev/null || fail "--follow of an exited session"
"$cli" vm delete --force v > /dev/null || fail "vm delete"
# bangerd ends cleanly (and, in the sanitizer build, says nothing).
kill "$daemon_pid"
wait "$daemon_pid" || fail "bangerd exited $? on SIGTERM"
daemon_pid=
if grep -q 'Sanitizer' "$work/bangerd2.log"; then fail "a sanitizer spoke in bangerd"; fi
# A bangerd whose bus goes away ends too, saying why.
start_daemon bangerd3.log
kill "$bus_pid"
wait "$bus_pid" 2>/dev/null || true
bus_pid=
gone () { ! kill -0 "$daemon_pid" 2>/dev/null; }
wait_for 30 "bangerd exits once its bus is gone" gone
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=
grep -q "lost its connection to the session bus" "$work/bangerd3.log" \
  || fail "bangerd did not say why it exited: $(tail -3 "$work/bangerd3.log")"
echo "ok"
