#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Test images for test-oci-registry, built with umoci and pushed with skopeo.
#   oci-registry.sh build LAYOUT      makes an OCI layout with the tags
#       amd64 (two layers), arm64 (one layer) and multi (an image index of both)
#   oci-registry.sh push LAYOUT HOST:PORT [AUTHFILE]
#       pushes test/single (OCI), test/v2s2 (Docker schema 2), test/multi (OCI index)
#       and test/multi-v2s2 (Docker manifest list)
set -eu

die () { echo "oci-registry.sh: $*" >&2; exit 1; }

build () {
  layout=$1
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  umoci init --layout "$layout"

  # Layers with fixed contents and timestamps, so the blobs are reproducible
  # within a run; the arm64 image gets a layer of its own.
  mkdir -p "$work/l1/etc" "$work/l2/usr/bin" "$work/l3/etc"
  echo "layer one" > "$work/l1/etc/one"
  echo "layer two" > "$work/l2/usr/bin/two"
  echo "arm64 only" > "$work/l3/etc/arm"
  for l in l1 l2 l3; do
    tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/$l" -cf "$work/$l.tar" .
  done

  umoci new --image "$layout:amd64"
  umoci config --image "$layout:amd64" --os linux --architecture amd64 --config.cmd /bin/sh
  umoci raw add-layer --image "$layout:amd64" "$work/l1.tar"
  umoci raw add-layer --image "$layout:amd64" "$work/l2.tar"

  umoci new --image "$layout:arm64"
  umoci config --image "$layout:arm64" --os linux --architecture arm64 --config.cmd /bin/sh
  umoci raw add-layer --image "$layout:arm64" "$work/l3.tar"

  # umoci cannot make an image index: write it as a blob and tag it in
  # index.json, which is what skopeo copy --all reads.
  python3 - "$layout" <<'PY'
import hashlib, json, os, sys
layout = sys.argv[1]
with open(os.path.join(layout, "index.json")) as f:
    top = json.load(f)
entries = []
for m in top["manifests"]:
    name = m.get("annotations", {}).get("org.opencontainers.image.ref.name")
    if name in ("amd64", "arm64"):
        entries.append({"mediaType": m["mediaType"], "digest": m["digest"], "size": m["size"],
                        "platform": {"architecture": name, "os": "linux"}})
entries.sort(key=lambda e: e["platform"]["architecture"])
blob = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                   "manifests": entries}, separators=(",", ":")).encode()
digest = hashlib.sha256(blob).hexdigest()
with open(os.path.join(layout, "blobs", "sha256", digest), "wb") as f:
    f.write(blob)
top["manifests"].append({"mediaType": "application/vnd.oci.image.index.v1+json",
                         "digest": "sha256:" + digest, "size": len(blob),
                         "annotations": {"org.opencontainers.image.ref.name": "multi"}})
with open(os.path.join(layout, "index.json"), "w") as f:
    json.dump(top, f)
PY
}

push () {
  layout=$1 host=$2
  set -- --insecure-policy copy --quiet --retry-times 0 --dest-tls-verify=false
  if [ -n "${AUTHFILE:-}" ]; then set -- "$@" --dest-authfile "$AUTHFILE"; fi
  skopeo "$@" "oci:$layout:amd64" "docker://$host/test/single:latest"
  skopeo "$@" --format v2s2 "oci:$layout:amd64" "docker://$host/test/v2s2:latest"
  skopeo "$@" --all "oci:$layout:multi" "docker://$host/test/multi:latest"
  skopeo "$@" --all --format v2s2 "oci:$layout:multi" "docker://$host/test/multi-v2s2:latest"
}

[ $# -ge 2 ] || die "usage: oci-registry.sh build LAYOUT | push LAYOUT HOST:PORT"
cmd=$1; shift
case $cmd in
  build) build "$1" ;;
  push) [ $# -ge 2 ] || die "push needs LAYOUT HOST:PORT"; [ $# -ge 3 ] && AUTHFILE=$3; push "$1" "$2" ;;
  *) die "unknown command $cmd" ;;
esac
