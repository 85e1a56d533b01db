#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# End to end: an image built with umoci and pushed with skopeo to a real
# docker-registry on 127.0.0.1 is pulled through bangerd (banger image pull),
# its ext4 tree is checked entry by entry against the layers with debugfs and
# e2fsck, and it boots: QEMU microvm (TCG) with Debian's cloud kernel and
# banger's initramfs runs the image's own /sbin/init.
# Needs: BANGER_CLI, BANGERD, BANGER_SOURCE_DIR, BANGER_GUEST_INIT, BANGER_TEST_KERNEL_DEB.
set -eu
. "$BANGER_SOURCE_DIR/tests/registry-harness.sh"

fail () { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
cleanup () {
  [ -n "${registry_pid:-}" ] && kill "$registry_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# Nothing of the user's: no ~/.docker/config.json or containers auth file
# (bangerd, skopeo), no XDG directories, no banger config.
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_STATE_HOME="$work/home/.state" \
       XDG_CACHE_HOME="$work/home/.cache" XDG_DATA_HOME="$work/home/.data" \
       XDG_RUNTIME_DIR="$work/run"
unset BANGER_CONFIG REGISTRY_AUTH_FILE DOCKER_CONFIG
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
# The python3 - checks below use assert: PYTHONOPTIMIZE would turn them off.
unset PYTHONOPTIMIZE

start_registry

# Two layers: the first has the init, a file owned by uid 1000, a setuid
# file, a symlink and a file the second layer whites out.
mkdir -p "$work/l1/sbin" "$work/l1/etc" "$work/l1/home/dev" "$work/l1/usr/bin" "$work/l1/dev" \
         "$work/l1/proc" "$work/l1/sys" "$work/l2/etc"
cp "$BANGER_GUEST_INIT" "$work/l1/sbin/init"
echo pulled > "$work/l1/etc/banger-test-marker"
echo "mine" > "$work/l1/home/dev/notes"
echo "doomed" > "$work/l1/etc/doomed"
printf '#!/bin/sh\necho hi\n' > "$work/l1/usr/bin/suid"
chmod 4755 "$work/l1/usr/bin/suid"
ln -s ../sbin/init "$work/l1/usr/bin/init-link"
touch "$work/l2/etc/.wh.doomed"
echo "layer two" > "$work/l2/etc/two"
tar --sort=name --mtime=@1000000000 --owner=0 --group=0 --numeric-owner -C "$work/l1" \
    --exclude=./home -cf "$work/l1.tar" .
tar --sort=name --mtime=@1000000000 --owner=1000 --group=1000 --numeric-owner -C "$work/l1" \
    -rf "$work/l1.tar" ./home
tar --sort=name --mtime=@1000000000 --owner=0 --group=0 --numeric-owner -C "$work/l2" -cf "$work/l2.tar" .
umoci init --layout "$work/oci"
umoci new --image "$work/oci:boot"
umoci config --image "$work/oci:boot" --os linux --architecture amd64
umoci raw add-layer --image "$work/oci:boot" "$work/l1.tar"
umoci raw add-layer --image "$work/oci:boot" "$work/l2.tar"
skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$work/oci:boot" \
  "docker://$host/test/boot:latest"

# bangerd on a private bus, with its own state.
cat > "$work/banger.toml" <<EOT
web_listen_addr = ""
state_dir = "$work/state"
cache_dir = "$work/cache"
EOT
export work host
dbus-run-session -- sh -eu -c '
  fail () { echo "FAIL: $*" >&2; exit 1; }
  "$BANGERD" --session --config "$work/banger.toml" 2> "$work/bangerd.log" &
  daemon=$!
  i=0
  until "$BANGER_CLI" daemon status > /dev/null 2>&1; do
    i=$((i + 1)); [ $i -lt 600 ] || fail "bangerd did not start"; sleep 0.05
  done
  "$BANGER_CLI" kernel import cloud --deb "$BANGER_TEST_KERNEL_DEB" > /dev/null
  "$BANGER_CLI" image pull "$host/test/boot:latest" --name booty --json > "$work/pull.json" \
    || fail "image pull failed"
  # Bad input changes nothing.
  if "$BANGER_CLI" image pull "$host/test/nope:latest" 2> "$work/nope.err"; then fail "pulled a missing image"; fi
  grep -q "test/nope" "$work/nope.err" || fail "unclear error: $(cat "$work/nope.err")"
  if "$BANGER_CLI" image pull "$host/test/boot:latest" --name booty 2> /dev/null; then fail "pulled a duplicate name"; fi
  "$BANGER_CLI" image list --json > "$work/images.json"
  # The layer cache: both layers used by booty; prune keeps them, and drops
  # them once the image is gone.
  "$BANGER_CLI" image cache list --json > "$work/cache.json"
  "$BANGER_CLI" image cache prune | grep -q "removed 0 unused" || fail "prune removed used blobs"
  "$BANGER_CLI" image pull "$host/test/boot:latest" --name second > /dev/null
  "$BANGER_CLI" image delete second > /dev/null
  # Through the daemon from Python: the operation progress reaches the
  # callback, per layer (not in the sanitizer build, see below).
  if [ -z "${BANGER_SANITIZED:-}" ]; then
    python3 - "$host" <<PY || fail "python pull over D-Bus"
import sys, banger
client = banger.Client.dbus()
seen = []
img = client.image_pull(sys.argv[1] + "/test/boot:latest", name="viadbus", progress=seen.append)
assert img["name"] == "viadbus", img
assert seen and {p.phase for p in seen} == {"pulling"}, seen
assert all(p.message.startswith("layer ") and p.message.endswith(" of 2") for p in seen), seen
assert seen[-1].done == seen[-1].total, seen
client.image_delete("viadbus")
PY
  fi
  "$BANGER_CLI" daemon stop > /dev/null
  wait $daemon
'
python3 - "$work" <<'PY' || fail "pull record"
import json, sys
work = sys.argv[1]
rec = json.load(open(work + "/pull.json"))
assert rec["managed"] is True and rec["source"] == "pulled", rec
assert rec["oci_digest"].startswith("sha256:") and rec["kernel_ref"] == "cloud", rec
assert rec["rootfs"].startswith(work + "/state/images/booty/"), rec
images = json.load(open(work + "/images.json"))
assert [i["name"] for i in images] == ["booty"], images
cache = json.load(open(work + "/cache.json"))
layers = rec["oci_layers"]
assert isinstance(layers, list), layers
blobs = layers + [rec["oci_config"]]
assert len(layers) == 2 and sorted(b["digest"] for b in cache) == sorted(blobs), (cache, blobs)
assert all(b["images"] == ["booty"] for b in cache), cache
PY
rootfs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rootfs"])' "$work/pull.json")

# The tree, entry by entry: apply the layers in Python (whiteouts
# included) and compare every entry's type, mode, owner, link target and
# content hash with what debugfs reads from the image.
e2fsck -fn "$rootfs" > "$work/fsck.log" 2>&1 || fail "e2fsck: $(cat "$work/fsck.log")"
python3 - "$rootfs" "$work/l1.tar" "$work/l2.tar" "$work" <<'PY' || fail "tree differs from the layers"
import hashlib, os, re, stat, subprocess, sys, tarfile
rootfs, layers, work = sys.argv[1], sys.argv[2:4], sys.argv[4]
tree = {}
for layer in layers:
    with tarfile.open(layer) as t:
        for m in t.getmembers():
            name = os.path.normpath(m.name).lstrip("./")
            if not name or name == ".":
                continue
            base = os.path.basename(name)
            parent = os.path.dirname(name)
            if base.startswith(".wh."):
                gone = os.path.join(parent, base[4:])
                for k in [k for k in tree if k == gone or k.startswith(gone + "/")]:
                    del tree[k]
                continue
            data = t.extractfile(m).read() if m.isfile() else None
            tree[name] = (m, data)
def debugfs(cmd):
    return subprocess.run(["debugfs", "-R", cmd, rootfs], capture_output=True, text=True).stdout
checked = 0
for name, (m, data) in sorted(tree.items()):
    out = debugfs("stat /" + name)
    mode = re.search(r"Mode:\s+(\d+)", out)
    owner = re.search(r"User:\s+(\d+)\s+Group:\s+(\d+)", out)
    assert mode and owner, (name, out)
    assert int(mode.group(1), 8) == stat.S_IMODE(m.mode), (name, mode.group(1), oct(m.mode))
    assert (int(owner.group(1)), int(owner.group(2))) == (m.uid, m.gid), (name, owner.groups())
    ftype = re.search(r"Type: (\w+)", out).group(1)
    expect = "regular" if m.isfile() else "directory" if m.isdir() else "symlink" if m.issym() else "?"
    assert ftype == expect, (name, ftype, expect)
    if m.issym():
        assert 'link dest: "%s"' % m.linkname in out, (name, out)
    if m.isfile():
        dumped = os.path.join(work, "dumped")
        debugfs("dump /%s %s" % (name, dumped))
        got = open(dumped, "rb").read()
        assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest(), name
    checked += 1
assert checked >= 12, checked
print("tree: %d entries match the layers" % checked)
PY
stat_of () { debugfs -R "stat $1" "$rootfs" 2>/dev/null; }
stat_of /home/dev/notes | grep -q "User:  1000   Group:  1000" || fail "uid 1000 lost: $(stat_of /home/dev/notes)"
stat_of /usr/bin/suid | grep -q "Mode:  04755" || fail "setuid lost: $(stat_of /usr/bin/suid)"
stat_of /usr/bin/init-link | grep -q 'Fast link dest: "../sbin/init"' || fail "symlink: $(stat_of /usr/bin/init-link)"
stat_of /etc/doomed 2>&1 | grep -q "Inode:" && fail "whiteout not applied"
debugfs -R "dump /sbin/init $work/init.out" "$rootfs" 2>/dev/null
cmp -s "$work/init.out" "$BANGER_GUEST_INIT" || fail "/sbin/init content differs"
debugfs -R "cat /etc/two" "$rootfs" 2>/dev/null | grep -qx "layer two" || fail "second layer missing"
stat_of /sbin/init | grep -q "Mode:  0755" || fail "mode of /sbin/init"

# The same pull from Python, in-process, with progress (not in the sanitizer
# build: an uninstrumented interpreter cannot load that libbanger).
if [ -z "${BANGER_SANITIZED:-}" ]; then
cat > "$work/py.toml" <<EOT
web_listen_addr = ""
state_dir = "$work/py-state"
cache_dir = "$work/cache"
EOT
python3 - "$work" "$host" <<'PY' || fail "python pull"
import sys, banger
work, host = sys.argv[1], sys.argv[2]
client = banger.Client.local(banger.Config.load(work + "/py.toml"))
import os
client.kernel_import("k", deb=os.environ["BANGER_TEST_KERNEL_DEB"])
seen = []
img = client.image_pull(host + "/test/boot:latest", progress=seen.append)
assert img["name"] == "boot-latest" and img["managed"] and img["kernel_ref"] == "k", img
assert seen and seen[-1].done == seen[-1].total, seen
try:
    client.image_pull(host + "/test/boot:latest", name="bad name!")
    raise SystemExit("bad name accepted")
except banger.BangerError as e:
    assert e.code == banger.ErrorCode.INVALID_ARGUMENT, e
assert len(client.image_cache_list()) == 3
client.image_delete("boot-latest")
removed, freed = client.image_cache_prune()
assert removed == 3 and freed > 0 and client.image_cache_list() == [], (removed, freed)
client.close()
PY
fi

# It boots.
kdir="$work/state/kernels/cloud"
khz=$(awk -F: '/cpu MHz/ {printf "%d", $2 * 1000; exit}' /proc/cpuinfo)
[ -n "$khz" ] || khz=2000000
timeout 90 qemu-system-x86_64 -M microvm,acpi=on -accel tcg -m 256 -smp 1 -nographic -no-reboot \
  -nodefaults -serial stdio -kernel "$kdir/vmlinuz" -initrd "$kdir/initrd.img" \
  -append "console=ttyS0 root=/dev/vda rootfstype=ext4 panic=-1 tsc_early_khz=$khz" \
  -drive "id=d0,file=$rootfs,format=raw,if=none,readonly=on" -device virtio-blk-device,drive=d0 \
  > "$work/console.log" 2>&1 || true
grep -q "banger-test-rootfs: init ran as pid 1, marker pulled" "$work/console.log" \
  || fail "the pulled image did not boot: $(tail -20 "$work/console.log")"
echo "1 passed, 0 failed"
