# SPDX-License-Identifier: LGPL-2.1-or-later
# Sourced by the shell tests that drive bangerd on a private dbus-daemon
# with the fake VMM (test-examples.sh, test-guest-strings.sh,
# test-sessions.sh). The test sets $work (its temporary directory) first;
# these use $work, $BANGERD and set $bus_pid and $daemon_pid.

fail () { echo "FAIL: $*" >&2; exit 1; }

# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 20 ms until it succeeds.
wait_for () {
  limit=$1 what=$2
  shift 2
  deadline=$(($(date +%s) + limit))
  until "$@"; do
    [ "$(date +%s)" -lt "$deadline" ] || fail "still not true after ${limit}s: $what"
    sleep 0.02
  done
}

# The fake VMM's "guest" commands run on this host, as root when the test
# is. Called first thing as `harness_readonly_system "$0" "$@"` (before
# $work is made), it runs the test again in a private mount namespace
# where /usr and /etc are read-only, so a bug there cannot damage the
# system (as tests/host_guard.py does for the Python tests).
harness_readonly_system () {
  [ "$(id -u)" = 0 ] || return 0
  if [ "${BANGER_TEST_MOUNTNS:-}" != 1 ]; then
    BANGER_TEST_MOUNTNS=1 exec unshare --mount --propagation private sh "$@"
  fi
  for d in /usr /etc; do
    mount --bind -o ro "$d" "$d" || fail "cannot make $d read-only"
    [ ! -w "$d" ] || fail "$d is still writable in the test's mount namespace"
  done
}

# Nothing of the user's: home, XDG directories, bus.
harness_isolate () {
  export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_STATE_HOME="$work/home/.state" \
         XDG_CACHE_HOME="$work/home/.cache" XDG_DATA_HOME="$work/home/.data" \
         XDG_RUNTIME_DIR="$work/run" DBUS_SESSION_BUS_ADDRESS="unix:path=$work/bus"
  unset BANGER_CONFIG
  mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
  chmod 700 "$XDG_RUNTIME_DIR"
  PATH=$PATH:/usr/sbin:/sbin
}

# The image files: a 16 MiB ext4 and a 64-byte x86-64 ELF header as "kernel".
harness_fake_image () {
  mkfs.ext4 -q -F "$work/rootfs.ext4" 16M > /dev/null
  { printf '\177ELF\2\1\1\0\0\0\0\0\0\0\0\0\2\0\76\0'; head -c 44 /dev/zero; } > "$work/vmlinux"
}

# A private session bus on $work/bus.
harness_start_bus () {
  cat > "$work/bus.conf" <<EOT
<busconfig>
  <type>session</type>
  <listen>unix:path=$work/bus</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOT
  dbus-daemon --config-file="$work/bus.conf" --nofork --print-address=1 > "$work/bus.address" \
    2> "$work/bus.log" &
  bus_pid=$!
  wait_for 30 "dbus-daemon listens" test -s "$work/bus.address"
}

has_owner () {
  gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
    --method org.freedesktop.DBus.NameHasOwner org.banger.Banger1 2>/dev/null | grep -q true
}

# harness_start_bangerd CONFIG LOG: bangerd on the bus, once it owns its name.
harness_start_bangerd () {
  "$BANGERD" --session --config "$1" > "$2" 2>&1 &
  daemon_pid=$!
  wait_for 60 "bangerd owns org.banger.Banger1" has_owner
}

# For the cleanup trap: bangerd, the bus, and the "VMs" a failed run left
# behind (their command lines name $work).
harness_stop () {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  [ -n "$bus_pid" ] && kill "$bus_pid" 2>/dev/null
  for proc in /proc/[0-9]*; do
    case $(tr '\0' ' ' 2>/dev/null < "$proc/cmdline") in
      *"$work"*) kill -9 "${proc#/proc/}" 2>/dev/null ;;
    esac
  done
}
