#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# image pull against a real docker-registry on 127.0.0.1, images built with
# umoci and pushed with skopeo:
#  - a merged-/usr image whose second layer writes lib/x/y and bin/tool
#    through lib -> usr/lib and bin -> usr/bin pulls, and its ext4 tree
#    (read back with debugfs rdump) matches `umoci unpack` of the same image
#    entry by entry: paths, types, modes, link targets, content hashes;
#  - an image whose config lists a wrong diff_id fails, naming the diff_id,
#    and leaves no image and no staging directory.
# Needs: BANGER_CLI, BANGER_SOURCE_DIR.
set -eu
. "$BANGER_SOURCE_DIR/tests/registry-harness.sh"

fail () { echo "FAIL: $*" >&2; exit 1; }
work=$(mktemp -d)
cleanup () {
  [ -n "${registry_pid:-}" ] && kill "$registry_pid" 2>/dev/null || true
  chmod -R u+w "$work" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
export HOME="$work/home" XDG_CONFIG_HOME="$work/home/.config" XDG_STATE_HOME="$work/home/.state" \
       XDG_CACHE_HOME="$work/home/.cache" XDG_DATA_HOME="$work/home/.data" \
       XDG_RUNTIME_DIR="$work/run"
unset BANGER_CONFIG REGISTRY_AUTH_FILE DOCKER_CONFIG PYTHONOPTIMIZE
mkdir -p "$HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

start_registry

# Layer 1: a merged /usr (lib and bin are links into usr), an absolute link
# and a file; layer 2 writes through the links.
mkdir -p "$work/l1/usr/lib" "$work/l1/usr/bin" "$work/l1/etc" "$work/l2/lib/x" "$work/l2/bin" \
         "$work/l2/conf"
ln -s usr/lib "$work/l1/lib"
ln -s usr/bin "$work/l1/bin"
ln -s /etc "$work/l1/conf-link"
echo "libc" > "$work/l1/usr/lib/libc.so.6"
chmod 0755 "$work/l1/usr/lib/libc.so.6"
echo "hostname" > "$work/l1/etc/hostname"
echo "through lib" > "$work/l2/lib/x/y"
printf '#!/bin/sh\necho tool\n' > "$work/l2/bin/tool"
chmod 0755 "$work/l2/bin/tool"
chmod 0750 "$work/l2/lib/x"
tar --sort=name --mtime=@1000000000 --owner=0 --group=0 --numeric-owner -C "$work/l1" -cf "$work/l1.tar" .
# Only the entries under the links: no lib/ or bin/ directory entries of
# their own (as image builders record a change below a link).
tar --sort=name --mtime=@1000000000 --owner=0 --group=0 --numeric-owner -C "$work/l2" \
    --no-recursion -cf "$work/l2.tar" lib/x lib/x/y bin/tool
umoci init --layout "$work/oci"
umoci new --image "$work/oci:merged"
umoci config --image "$work/oci:merged" --os linux --architecture amd64
umoci raw add-layer --image "$work/oci:merged" "$work/l1.tar"
umoci raw add-layer --image "$work/oci:merged" "$work/l2.tar"

# The same first layer with a config whose diff_id is wrong: the config
# blob is rewritten in the layout (and the manifest and index with it).
umoci new --image "$work/oci:baddiff"
umoci config --image "$work/oci:baddiff" --os linux --architecture amd64
umoci raw add-layer --image "$work/oci:baddiff" "$work/l1.tar"
python3 - "$work/oci" <<'PY' || fail "could not make the bad diff_id image"
import hashlib, json, os, sys
layout = sys.argv[1]
def blob(d):
    return os.path.join(layout, "blobs", "sha256", d.split(":", 1)[1])
def put(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    with open(blob(d), "wb") as f:
        f.write(data)
    return d, len(data)
top = json.load(open(os.path.join(layout, "index.json")))
for m in top["manifests"]:
    if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != "baddiff":
        continue
    manifest = json.load(open(blob(m["digest"])))
    config = json.load(open(blob(manifest["config"]["digest"])))
    config["rootfs"]["diff_ids"] = ["sha256:" + hashlib.sha256(b"not this layer").hexdigest()]
    manifest["config"]["digest"], manifest["config"]["size"] = put(json.dumps(config).encode())
    m["digest"], m["size"] = put(json.dumps(manifest).encode())
json.dump(top, open(os.path.join(layout, "index.json"), "w"))
PY
for tag in merged baddiff; do
  skopeo --insecure-policy copy --quiet --dest-tls-verify=false "oci:$work/oci:$tag" \
    "docker://$host/test/$tag:latest" || fail "skopeo could not push $tag"
done

# banger --local, with a stand-in kernel (the image is not booted).
cat > "$work/banger.toml" <<EOT
state_dir = "$work/state"
cache_dir = "$work/cache"
EOT
python3 - "$work/vmlinux" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    f.write(b"\x7fELF\x02\x01\x01" + b"\0" * 9 + (2).to_bytes(2, "little")
            + (62).to_bytes(2, "little") + b"\0" * 44)
PY
b () { "$BANGER_CLI" --local -c "$work/banger.toml" "$@"; }
b kernel import k --vmlinux "$work/vmlinux" > /dev/null || fail "kernel import"

b image pull "$host/test/merged:latest" --name merged --json > "$work/pull.json" \
  || fail "the merged-/usr image did not pull"
rootfs=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["rootfs"])' "$work/pull.json")
e2fsck -fn "$rootfs" > "$work/fsck.log" 2>&1 || fail "e2fsck: $(cat "$work/fsck.log")"
mkdir "$work/ext4" "$work/bundle"
debugfs -R "rdump / $work/ext4" "$rootfs" > /dev/null 2>&1 || fail "debugfs rdump"
rm -rf "$work/ext4/lost+found"
umoci unpack --rootless --image "$work/oci:merged" "$work/bundle" > /dev/null \
  || fail "umoci unpack"
python3 - "$work/ext4" "$work/bundle/rootfs" <<'PY' || fail "the pulled tree differs from umoci unpack"
import hashlib, os, stat, sys
def walk(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            rel = os.path.relpath(p, root)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", oct(stat.S_IMODE(st.st_mode)))
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", oct(stat.S_IMODE(st.st_mode)),
                            hashlib.sha256(open(p, "rb").read()).hexdigest())
            else:
                out[rel] = ("other", oct(st.st_mode))
    return out
ours, umoci = walk(sys.argv[1]), walk(sys.argv[2])
for k in sorted(set(ours) | set(umoci)):
    if ours.get(k) != umoci.get(k):
        print("%s: banger %s, umoci %s" % (k, ours.get(k), umoci.get(k)))
assert ours == umoci
# And what the test is about: the writes went through the links.
assert ours["usr/lib/x/y"][0] == "file" and ours["usr/bin/tool"][0] == "file", ours
assert ours["usr/lib/x"] == ("dir", "0o750"), ours["usr/lib/x"]
assert ours["lib"] == ("link", "usr/lib") and ours["bin"] == ("link", "usr/bin"), ours
print("tree: %d entries match umoci unpack" % len(ours))
PY

# A wrong diff_id: refused, nothing left.
if b image pull "$host/test/baddiff:latest" --name baddiff 2> "$work/baddiff.err"; then
  fail "pulled an image whose diff_id is wrong"
fi
grep -q "diff_id" "$work/baddiff.err" || fail "unclear error: $(cat "$work/baddiff.err")"
b image list --json > "$work/images.json"
python3 - "$work/images.json" <<'PY' || fail "image list after the failed pull: $(cat "$work/images.json")"
import json, sys
assert [i["name"] for i in json.load(open(sys.argv[1]))] == ["merged"]
PY
leftover=$(ls -A "$work/state/images" | grep -v '^merged$' || true)
[ -z "$leftover" ] || fail "left in state/images after the failed pull: $leftover"
echo "1 passed, 0 failed"
