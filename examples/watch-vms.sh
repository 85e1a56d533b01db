#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# examples/watch-vms.sh: one line per VM state change, read from bangerd's
# D-Bus object tree (docs/dbus.md) with nothing but gdbus and awk:
#
#   dev: starting    the VM appeared (ObjectManager.InterfacesAdded)
#   dev: running     its State property changed (PropertiesChanged)
#   dev: removed     it was deleted (ObjectManager.InterfacesRemoved)
#
#   ./watch-vms.sh [--system]
#
# The VMs that exist when it starts (or when bangerd comes back) are
# printed first, with their state. Notes on what it is doing go to stderr.
# Ctrl-C ends it.
set -eu
bus=--session
case "${1:-}" in
  --system) bus=--system ;;
  "") ;;
  *) echo "usage: $0 [--system]" >&2; exit 2 ;;
esac

# mawk (Debian's awk) reads a pipe in blocks unless told to read it line by
# line; other awks already do.
interactive=
case $(awk -W version 2>&1 || true) in mawk*) interactive="-W interactive" ;; esac

# gdbus monitor prints one line per signal of org.banger.Banger1, e.g.
#   /org/banger/Banger1/vm/dev: org.freedesktop.DBus.Properties.PropertiesChanged
#     ('org.banger.Banger1.Vm', {'State': <'running'>}, @as [])
gdbus monitor "$bus" --dest org.banger.Banger1 | awk $interactive -v bus="$bus" '
BEGIN {
  vm_prefix = "/org/banger/Banger1/vm/"
  for (i = 1; i < 256; i++) byte[sprintf("%02x", i)] = sprintf("%c", i)
}
# /org/banger/Banger1/vm/NAME -> NAME, unescaping what
# g_dbus_escape_object_path() did ("dev-1" is "dev_2d1"); "" if not a VM.
function vm_name(path,    s, out, hex) {
  if (index(path, vm_prefix) != 1) return ""
  s = substr(path, length(vm_prefix) + 1); out = ""
  while (s != "") {
    hex = substr(s, 2, 2)
    if (substr(s, 1, 1) == "_" && (hex in byte)) { out = out byte[hex]; s = substr(s, 4) }
    else { out = out substr(s, 1, 1); s = substr(s, 2) }
  }
  return out
}
# The value of the State property in a printed GVariant, "" if absent.
function state_in(text) {
  if (!match(text, /'\''State'\'': <'\''[^'\'']*'\''>/)) return ""
  return substr(text, RSTART + 11, RLENGTH - 13)
}
# Prints "NAME: STATE" when STATE is new for NAME.
function report(name, state) {
  if (name == "" || state == "" || last[name] == state) return
  last[name] = state
  print name ": " state
  fflush()
}
# The path argument of InterfacesAdded and InterfacesRemoved.
function path_arg(text) {
  return match(text, /objectpath '\''[^'\'']*'\''/) ? substr(text, RSTART + 12, RLENGTH - 13) : ""
}

# bangerd is (back) on the bus: print the VMs it has now.
/^The name org\.banger\.Banger1 is owned by / {
  cmd = "gdbus call " bus " --dest org.banger.Banger1 --object-path /org/banger/Banger1" \
        " --method org.freedesktop.DBus.ObjectManager.GetManagedObjects"
  listing = ""
  while ((cmd | getline line) > 0) listing = listing line
  close(cmd)
  # A dictionary {path: {interface: {property: value}}}, one piece per VM.
  n = split(listing, objects, "'\''" vm_prefix)
  for (i = 2; i <= n; i++)
    report(vm_name(vm_prefix substr(objects[i], 1, index(objects[i], "'\''") - 1)),
           state_in(objects[i]))
  print "watch-vms: watching bangerd (" $NF ")" > "/dev/stderr"
  fflush("/dev/stderr")
  next
}
/^The name org\.banger\.Banger1 does not have an owner/ {
  print "watch-vms: bangerd is not running; waiting for it" > "/dev/stderr"
  fflush("/dev/stderr")
  for (name in last) delete last[name]
  next
}
/ org\.freedesktop\.DBus\.ObjectManager\.InterfacesAdded / {
  report(vm_name(path_arg($0)), state_in($0)); next
}
/ org\.freedesktop\.DBus\.ObjectManager\.InterfacesRemoved / {
  name = vm_name(path_arg($0))
  if (name != "") { report(name, "removed"); delete last[name] }
  next
}
/ org\.freedesktop\.DBus\.Properties\.PropertiesChanged / {
  path = $1; sub(/:$/, "", path)
  report(vm_name(path), state_in($0)); next
}
'
