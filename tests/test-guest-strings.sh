#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# The guest is untrusted: a VM whose agent reports hostile strings (an
# os-release PRETTY_NAME with terminal escape sequences, a listening
# process whose name holds them) and a D-Bus caller passing them. Every
# surface is checked: `banger vm show` / `vm ports` print them escaped,
# --json has no raw control bytes but decodes to the guest's exact string,
# the Vm object's GuestOs property holds that string as data, and
# bangerd's log (debug level) holds neither ESC nor BEL and cuts long
# arguments. Image and kernel records hold other clients' strings (file
# names) and a catalog's: image register/show/list, kernel import/show and
# list --available print them escaped. bangerd runs on a private
# dbus-daemon with the fake VMM (the
# agent on the host, in host mode, reading $BANGER_AGENT_OS_RELEASE).
# Needs: BANGER_CLI, BANGERD, BANGER_SOURCE_DIR, PYTHON3.
set -eu
. "$BANGER_SOURCE_DIR/tests/bangerd-harness.sh"
harness_readonly_system "$0" "$@"

work=$(mktemp -d "${TMPDIR:-/tmp}/bgr-gs-XXXXXX")
bus_pid= daemon_pid= listener_pid=

cleanup () {
  status=$?
  set +e
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
  harness_stop
  if [ $status -ne 0 ]; then
    for f in bangerd.log show.out show.json ports.out ports.json prop.out image.out kernel.out \
             available.out; do
      [ -s "$work/$f" ] && { echo "--- $f"; cat -v "$work/$f"; }
    done
  fi
  rm -rf "$work"
  exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# raw FILE: FILE holds no ESC, BEL, CR or C1 CSI (U+009B) byte.
no_raw () {
  ! LC_ALL=C grep -q "$(printf '[\033\007\r]')" "$1" && ! LC_ALL=C grep -q "$(printf '\302\233')" "$1"
}

harness_isolate

# The guest's os-release: ESC ] 0 ; ... BEL retitles a terminal, ESC [ 31 m
# recolours it, U+009B is the 8-bit CSI, U+202E reverses the text after it.
printf 'ID=evil\nPRETTY_NAME="Evil\033]0;pwned\007\033[31mRED\302\233x\342\200\256y\rz"\n' \
  > "$work/os-release"
pretty=$(printf 'Evil\033]0;pwned\007\033[31mRED\302\233x\342\200\256y\rz')
export BANGER_AGENT_OS_RELEASE="$work/os-release"

harness_fake_image
cat > "$work/daemon.toml" <<EOT
hypervisor = "fake"
web_listen_addr = ""
state_dir = "$work/state"
cache_dir = "$work/cache"
log_level = "debug"
kernel_catalog_url = "$work/catalog.json"
EOT
# A kernel catalog is someone else's document: its strings are shown escaped.
printf '{ "schema_version": 1, "kernels": [ { "name": "evilk", "version": "6\\u001b[31m1",\n'\
'  "arch": "x86_64", "source": "download", "description": "D\\u001b]0;t\\u0007x\\u202ey",\n'\
'  "artifacts": { "kernel": { "url": "vmlinux", "size": 64, "sha256":\n'\
'  "0000000000000000000000000000000000000000000000000000000000000000", "format": "elf" } } } ] }\n' \
  > "$work/catalog.json"
harness_start_bus
harness_start_bangerd "$work/daemon.toml" "$work/bangerd.log"
"$BANGER_CLI" image register --name img --rootfs "$work/rootfs.ext4" --kernel "$work/vmlinux" \
  > /dev/null || fail "image register"
"$BANGER_CLI" vm create --name evil --image img > "$work/create.out" || fail "vm create"
no_raw "$work/create.out" || fail "vm create printed raw control characters"

# vm show: escaped, every character of it.
"$BANGER_CLI" vm show evil > "$work/show.out" || fail "vm show"
no_raw "$work/show.out" || fail "vm show printed raw control characters"
grep -qF 'guest:       Evil\x1b]0;pwned\x07\x1b[31mRED\u{009b}x\u{202e}y\x0dz, kernel ' "$work/show.out" \
  || fail "vm show does not show the escaped PRETTY_NAME"

# --json: no raw control bytes, and it decodes to the guest's exact string.
"$BANGER_CLI" --json vm show evil > "$work/show.json" || fail "vm show --json"
no_raw "$work/show.json" || fail "vm show --json printed raw control characters"
"$PYTHON3" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["guest_os"] != sys.argv[2])' \
  "$work/show.json" "$pretty" || fail "vm show --json: guest_os is not the guest's string"

# D-Bus: the property is data, the guest's string as it is.
gdbus call --session --dest org.banger.Banger1 --object-path /org/banger/Banger1/vm/evil \
  --method org.freedesktop.DBus.Properties.Get org.banger.Banger1.Vm GuestOs > "$work/prop.out" \
  || fail "Get GuestOs"
grep -qF "Evil\\u001b]0;pwned\\a\\u001b[31mRED" "$work/prop.out" || fail "GuestOs is not the guest's string"

# vm ports: a listening process (on the host, which the fake VM's agent
# reports) whose name holds escape sequences.
"$PYTHON3" -c '
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"ev\x1b]0;p\x07il", 0, 0, 0)  # PR_SET_NAME
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)' "$work/port" &
listener_pid=$!
wait_for 30 "the listener listens" test -s "$work/port"
port=$(cat "$work/port")
"$BANGER_CLI" vm ports evil > "$work/ports.out" || fail "vm ports"
no_raw "$work/ports.out" || fail "vm ports printed raw control characters"
grep -q "^tcp  *127\.0\.0\.1  *$port  *$listener_pid  *ev\\\\x1b\]0;p\\\\x07il\$" "$work/ports.out" \
  || fail "vm ports does not show the escaped process name"
"$BANGER_CLI" --json vm ports evil > "$work/ports.json" || fail "vm ports --json"
no_raw "$work/ports.json" || fail "vm ports --json printed raw control characters"
"$PYTHON3" -c '
import json, sys
ports = [p for p in json.load(open(sys.argv[1])) if p["port"] == int(sys.argv[2])]
sys.exit(not ports or ports[0]["process"] != "ev\x1b]0;p\x07il")' "$work/ports.json" "$port" \
  || fail "vm ports --json: the process name is not the guest's"

# A caller's hostile and huge arguments: logged escaped and cut.
long=$(head -c 5000 /dev/zero | tr '\0' a)
gdbus call --session --dest org.banger.Banger1 --object-path /org/banger/Banger1 \
  --method org.banger.Banger1.Manager.GetVm "$(printf 'x\033]0;t\007')$long" > /dev/null 2>&1 \
  && fail "GetVm of a hostile name succeeded"
"$BANGER_CLI" vm delete --force evil > /dev/null || fail "vm delete"

# Images and kernels: strings another client gave (file names) and a
# catalog's, printed escaped by image show/list/register, kernel
# show/import/list --available; --json decodes to the exact strings.
esc=$(printf 'r\033]0;t\007\342\200\256')
cp "$work/rootfs.ext4" "$work/$esc.ext4"
cp "$work/vmlinux" "$work/$esc.vmlinux"
"$BANGER_CLI" image register --name hostile --rootfs "$work/$esc.ext4" --kernel "$work/vmlinux" \
  > "$work/register.out" || fail "image register of a hostile file name"
"$BANGER_CLI" image show hostile > "$work/image.out" || fail "image show"
"$BANGER_CLI" image list > "$work/images.out" || fail "image list"
"$BANGER_CLI" kernel import --vmlinux "$work/$esc.vmlinux" hostilek > "$work/import.out" \
  || fail "kernel import of a hostile file name"
"$BANGER_CLI" kernel show hostilek > "$work/kernel.out" || fail "kernel show"
"$BANGER_CLI" kernel list --available > "$work/available.out" || fail "kernel list --available"
for f in register.out image.out images.out import.out kernel.out available.out; do
  no_raw "$work/$f" || fail "$f holds raw control characters"
done
grep -qF 'rootfs:     '"$work"'/r\x1b]0;t\x07\u{202e}.ext4' "$work/image.out" \
  || fail "image show does not show the escaped rootfs"
grep -qF 'source:    import:'"$work"'/r\x1b]0;t\x07\u{202e}.vmlinux' "$work/kernel.out" \
  || fail "kernel show does not show the escaped source"
grep -qF 'D\x1b]0;t\x07x\u{202e}y' "$work/available.out" \
  || fail "kernel list --available does not show the escaped description"
"$BANGER_CLI" --json image show hostile > "$work/image.json" || fail "image show --json"
no_raw "$work/image.json" || fail "image show --json holds raw control characters"
"$PYTHON3" -c 'import json, sys; sys.exit(json.load(open(sys.argv[1]))["rootfs"] != sys.argv[2])' \
  "$work/image.json" "$work/$esc.ext4" || fail "image show --json: rootfs is not the exact path"

# The log: things happened, and none of it raw.
grep -q 'GetVm' "$work/bangerd.log" || fail "bangerd logged no GetVm call"
no_raw "$work/bangerd.log" || fail "bangerd's log holds raw control characters"
grep -qF '...(' "$work/bangerd.log" || fail "bangerd's log did not cut the long argument"
# The failed call's message quotes the name, escaped by libbanger's helper
# (not only by GLib's log writer, which some GLib versions do not escape in).
grep -qF "GetVm failed: invalid VM name 'x\x1b]0;t\x07aaa" "$work/bangerd.log" \
  || fail "bangerd's log does not quote the name escaped"
if grep -q "$long" "$work/bangerd.log"; then fail "bangerd's log holds the whole 5000-byte argument"; fi
echo "ok"
