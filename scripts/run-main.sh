#!/bin/sh
# banger's main job, from a fresh Debian 12 machine (run as root, or with
# sudo available): installs what is needed, builds, then
#   - makes a Debian 12 (bookworm) root filesystem with debootstrap from this
#     host's own apt mirror (kept in build/demo-cache for the next run),
#   - starts bangerd on a private D-Bus bus, inside a network namespace of
#     its own so that the demo's bridge, taps, NAT and dnsmasq vanish with it
#     (a real install runs bangerd in the host's namespace),
#   - pulls Debian's cloud kernel (from the apt archive; banger generates its
#     initramfs) and registers the rootfs as an image that boots with it,
#   - makes a small git repository with uncommitted work, and runs
#     `banger vm run` on it: a VM (firecracker where KVM and a vmlinux allow,
#     else QEMU, under KVM or TCG) with the repository at /root/repo,
#   - runs `uname -a`, `cat /etc/os-release` and `git status` in it through
#     the guest agent, starts a session and follows its output, pings the VM
#     over the bridge, then stops and deletes it.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

cache="$(pwd)/build/demo-cache"
demo="$(pwd)/build/demo"
mkdir -p "$cache"
rm -rf "$demo"
mkdir -p "$demo"

# The mirror this host installs from (deb822 or one-line sources).
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
if [ -z "$mirror" ]; then
  mirror=$(awk '$1 == "deb" && $2 !~ /^\[/ { print $2; exit } $1 == "deb" { print $3; exit }' \
             /etc/apt/sources.list 2>/dev/null || true)
fi
[ -n "$mirror" ] || { echo "run-main: cannot find this host's Debian mirror" >&2; exit 1; }

rootfs="$cache/debian-bookworm-git.ext4"
if [ ! -f "$rootfs" ]; then
  echo "== debootstrap bookworm from $mirror (once; about 2 minutes)"
  tree="$cache/bookworm-tree"
  $SUDO rm -rf "$tree"
  $SUDO debootstrap --variant=minbase --include=systemd-sysv,iproute2,iputils-ping,procps,git,ca-certificates \
    bookworm "$tree" "$mirror" > "$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  echo "banger-demo" | $SUDO tee "$tree/etc/hostname" > /dev/null
  $SUDO mkfs.ext4 -q -L bookworm -d "$tree" "$rootfs.tmp" 2G
  $SUDO mv "$rootfs.tmp" "$rootfs"
  $SUDO rm -rf "$tree"
fi

# A repository as you would have one: some history, an edit not committed
# yet, a new file, and an ignored one that must not reach the VM.
repo="$demo/project"
mkdir -p "$repo"
(
  cd "$repo"
  export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=demo GIT_AUTHOR_EMAIL=demo@example.com \
         GIT_COMMITTER_NAME=demo GIT_COMMITTER_EMAIL=demo@example.com
  git init -q -b main
  printf 'print("hello from the VM")\n' > hello.py
  printf '*.log\n' > .gitignore
  git add -A && git commit -q -m "first commit"
  printf 'print("and an edit not committed yet")\n' >> hello.py
  echo "new, untracked" > notes.txt
  echo "ignored" > build.log
)

cat > "$demo/config.toml" <<EOT
state_dir = "$demo/state"
cache_dir = "$cache/banger"
EOT

# The kernel comes from the apt archive, so it is pulled before the daemon
# moves into its network namespace (which has no way out), by an engine
# running in this process.
echo "== banger --local kernel pull debian-cloud"
$SUDO build/cli/banger --local -c "$demo/config.toml" kernel pull debian-cloud

exec $SUDO unshare --net --pid --fork --mount-proc --kill-child dbus-run-session -- sh -eu -c '
  banger=build/cli/banger
  demo=$1
  rootfs=$2
  repo=$3
  ip link set lo up
  build/daemon/bangerd --session --config "$demo/config.toml" 2> "$demo/bangerd.log" &
  daemon=$!
  i=0
  until $banger daemon status > /dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 $daemon 2>/dev/null; then
      echo "bangerd did not start:" >&2; cat "$demo/bangerd.log" >&2; exit 1
    fi
    sleep 0.1
  done
  step () { echo; echo "== banger $*"; $banger "$@"; }
  step daemon status
  step doctor || true
  step kernel list
  step image register --name bookworm --rootfs "$rootfs" --kernel-ref debian-cloud
  step vm run "$repo" --name demo --image bookworm
  step vm exec demo -- uname -a
  step vm exec demo -- cat /etc/os-release
  step vm exec demo -- git -C /root/repo status --short
  step vm session start demo --name ticker -- sh -c "for i in 1 2 3; do echo tick \$i; sleep 1; done"
  step vm session logs demo ticker --follow
  ip=$($banger vm show demo --json | sed -n "s/.*\"ip\" : \"\([^\"]*\)\".*/\1/p")
  if [ -n "$ip" ]; then
    echo; echo "== ping -c 1 $ip (demo.vm, over the bridge)"
    busybox ping -c 1 -W 5 "$ip"
  fi
  step vm list
  step vm stop demo
  step vm delete demo
  step daemon stop
  wait $daemon
' sh "$demo" "$rootfs" "$repo"
