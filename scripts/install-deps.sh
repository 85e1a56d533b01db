#!/bin/sh
# Installs what banger needs to build, run and test, from Debian's packages.
# Idempotent: installs only what is missing, and touches nothing otherwise.
set -eu

PACKAGES="
  build-essential cmake pkg-config
  libglib2.0-dev libglib2.0-dev-bin libglib2.0-bin libjson-glib-dev libsoup-3.0-dev
  libarchive-dev libext2fs-dev libgit2-dev libisal-dev libzstd-dev libssl-dev zlib1g-dev
  dbus-daemon dbus-bin
  python3 python3-pytest python3-yaml busybox-static debootstrap
  chromium chromium-driver python3-selenium
  git openssh-client openssh-server iproute2 nftables dnsmasq-base
  qemu-system-x86
  docker-registry skopeo umoci apache2-utils
  clang libclang-rt-14-dev
  man-db groff-base bash-completion
"

missing=""
for p in $PACKAGES; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  case "$status" in
    *"install ok installed"*) ;;
    *) missing="$missing $p" ;;
  esac
done

if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
echo "install-deps: installing:$missing"
$SUDO apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing
