#!/bin/sh
# Installs dependencies, builds banger, and runs what banger does today,
# against a demo state directory under build/demo (made afresh each run):
#   - starts bangerd on a private D-Bus session bus and shows its status,
#   - runs `banger doctor` against this host,
#   - pulls Debian's cloud kernel (from this host's apt archive) and shows
#     the initramfs banger generated for it,
#   - registers an ext4 rootfs as an image with that kernel and promotes it.
# Booting VMs is not implemented yet.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build

demo="$(pwd)/build/demo"
rm -rf "$demo"
mkdir -p "$demo/rootfs-src/sbin" "$demo/rootfs-src/etc"
cat > "$demo/config.toml" <<EOT
state_dir = "$demo/state"
cache_dir = "$demo/cache"
EOT
echo "banger demo rootfs" > "$demo/rootfs-src/etc/motd"
mkfs.ext4 -q -d "$demo/rootfs-src" "$demo/rootfs.ext4" 64M

exec dbus-run-session -- sh -eu -c '
  banger=build/cli/banger
  demo=$1
  build/daemon/bangerd --session --config "$demo/config.toml" &
  daemon=$!
  # Wait (at most 30 s) until bangerd answers.
  i=0
  until $banger daemon status > /dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 $daemon 2>/dev/null; then
      echo "bangerd did not start" >&2; exit 1
    fi
    sleep 0.1
  done
  echo "== banger daemon status"; $banger daemon status
  echo; echo "== banger doctor"; status=0; $banger doctor || status=$?
  echo; echo "== banger kernel list --available"; $banger kernel list --available
  echo; echo "== banger kernel pull debian-cloud"; $banger kernel pull debian-cloud
  echo; echo "== banger image register --name demo --rootfs $demo/rootfs.ext4 --kernel-ref debian-cloud"
  $banger image register --name demo --rootfs "$demo/rootfs.ext4" --kernel-ref debian-cloud
  echo; echo "== banger image promote demo"; $banger image promote demo
  echo; echo "== banger image list"; $banger image list
  echo; echo "== banger daemon stop"; $banger daemon stop
  wait $daemon
  exit $status
' sh "$demo"
