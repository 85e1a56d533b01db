#!/bin/sh
# `cmake --install` puts every piece where it belongs, and the C examples
# built against the installed tree with pkg-config run.
# Usage: check-install.sh BUILD_DIR PREFIX EXAMPLES_DIR CC
set -eu
build=$1
prefix=$2
examples=$3
cc=$4
dest=$(mktemp -d)
trap 'rm -rf "$dest"' EXIT
if ! DESTDIR="$dest" cmake --install "$build" > "$dest/install.log" 2>&1; then
  cat "$dest/install.log"; exit 1
fi
root="$dest$prefix"
status=0
for f in bin/banger bin/bangerd \
         include/banger/banger.h include/banger/bgr-version.h \
         share/dbus-1/interfaces/org.banger.Banger1.Manager.xml \
         share/dbus-1/services/org.banger.Banger1.service \
         share/dbus-1/system-services/org.banger.Banger1.service \
         share/dbus-1/system.d/org.banger.Banger1.conf \
         lib/systemd/user/bangerd.service lib/systemd/system/bangerd.service \
         lib/python3/dist-packages/banger/__init__.py \
         share/man/man1/banger.1 share/man/man5/banger-config.5 share/man/man8/bangerd.8; do
  [ -e "$root/$f" ] || { echo "missing after install: $prefix/$f"; status=1; }
done
# The completion goes to bash-completion's completionsdir under our prefix.
completion=$(find "$dest" -path '*/completions/banger' | head -n1)
if [ -z "$completion" ]; then
  echo "missing after install: the bash completion (completions/banger)"; status=1
elif ! bash -c '. "$1" && complete -p banger' sh "$completion" > /dev/null; then
  echo "installed completion does not register for banger: $completion"; status=1
fi
pc=$(find "$root" -name banger.pc | head -n1)
lib=$(find "$root" -name 'libbanger.so.1' | head -n1)
[ -n "$pc" ] && [ -n "$lib" ] || { echo "missing banger.pc or libbanger.so.1"; exit 1; }
grep -q "^Exec=$prefix/bin/bangerd --session" "$root/share/dbus-1/services/org.banger.Banger1.service" \
  || { echo "session service file does not start $prefix/bin/bangerd"; status=1; }
# Build the examples against the installed headers and library only.
# Point a copy of banger.pc at the staging tree (only its own prefix moves).
mkdir "$dest/pc"
sed "s|^prefix=.*|prefix=$root|" "$pc" > "$dest/pc/banger.pc"
cflags=$(PKG_CONFIG_PATH="$dest/pc" pkg-config --cflags banger)
libs=$(PKG_CONFIG_PATH="$dest/pc" pkg-config --libs banger)
for example in doctor vm-exec-async; do
  $cc -std=c11 -Wall -Wextra -Werror $cflags "$examples/$example.c" $libs -o "$dest/$example" \
    || { echo "$example.c does not build against the installed tree"; exit 1; }
done
out=$(LD_LIBRARY_PATH=$(dirname "$lib") XDG_CONFIG_HOME="$dest/cfg" "$dest/doctor" || true)
echo "$out" | grep -q '^libbanger ' || { echo "installed example did not run: $out"; status=1; }
echo "$out" | grep -q '^hypervisor: ' || { echo "installed example printed no report: $out"; status=1; }
# vm-exec-async with an in-process engine on an empty state directory: it
# gets as far as looking the image up (test-examples runs it for real).
rc=0
out=$(env -u BANGER_CONFIG LD_LIBRARY_PATH=$(dirname "$lib") HOME="$dest/home" \
        XDG_CONFIG_HOME="$dest/cfg" XDG_STATE_HOME="$dest/state" XDG_CACHE_HOME="$dest/cache" \
        "$dest/vm-exec-async" --local nope true 2>&1) || rc=$?
[ $rc -eq 3 ] && echo "$out" | grep -q "create: no image named 'nope'" \
  || { echo "installed vm-exec-async did not run (exit $rc): $out"; status=1; }
# The installed Python package imports on its own (every module of it was
# installed), with the installed library.
out=$(cd "$dest" && PYTHONPATH="$root/lib/python3/dist-packages" \
        PYTHONDONTWRITEBYTECODE=1 BANGER_LIBRARY="$lib" "${PYTHON3:-python3}" -c \
        'import banger; print(banger.__file__, banger.version(), banger.Client.vm_exec.__name__)' 2>&1) \
  && echo "$out" | grep -q "^$root/lib/python3/dist-packages/banger/__init__.py .* vm_exec\$" \
  || { echo "installed Python package does not import: $out"; status=1; }
[ $status -eq 0 ] && echo "ok: install tree complete (man pages, completion and the Python package too), examples build and run against it"
exit $status
