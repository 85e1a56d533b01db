#!/bin/sh
# Downloads Debian's cloud kernel package (the package that
# linux-image-cloud-amd64 depends on) into DIR (default: build/test-cache)
# for the kernel tests, once: an existing download is reused. DIR/cloud-kernel.deb
# links to it. Prints the .deb's path.
set -eu
dir=${1:-build/test-cache}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
existing=$(ls "$dir"/linux-image-*-cloud-amd64_*.deb 2>/dev/null | head -n1 || true)
if [ -n "$existing" ]; then
  ln -sf "$(basename "$existing")" "$dir/cloud-kernel.deb"
  echo "$existing"
  exit 0
fi
pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null \
      | awk '/Depends: linux-image-/ {print $2; exit}')
if [ -z "$pkg" ]; then
  # The package lists may not be there yet on a fresh machine.
  if [ "$(id -u)" -eq 0 ]; then apt-get update -qq; else sudo apt-get update -qq; fi
  pkg=$(apt-cache depends linux-image-cloud-amd64 | awk '/Depends: linux-image-/ {print $2; exit}')
fi
[ -n "$pkg" ] || { echo "fetch-test-kernel: cannot resolve linux-image-cloud-amd64" >&2; exit 1; }
# apt-get download drops privileges to _apt, which needs to write here.
tmp=$(mktemp -d)
chmod 0777 "$tmp"
(cd "$tmp" && apt-get download -q "$pkg" >&2)
mv "$tmp"/*.deb "$dir"/
rmdir "$tmp"
deb=$(ls "$dir"/linux-image-*-cloud-amd64_*.deb | head -n1)
ln -sf "$(basename "$deb")" "$dir/cloud-kernel.deb"
echo "$deb"
