#!/usr/bin/env bash
# Installs a bitstudio .deb into a fresh, minimal Debian 12 root and runs it there: proves that the package's
# Depends (from dpkg-shlibdeps) pull in everything the two executables need on a clean system.
#   bash packaging/deb-install-test.sh build/bitstudio_*.deb
# Needs root (debootstrap, mount, chroot) and Debian's mirror. The minbase root is built once by debootstrap and
# cached as a tarball, with the downloaded .debs next to it, outside the repository:
#   ${BQ_CACHE_DIR:-~/.cache/bitstudio}/deb-root.tar and deb-root-apt/ (delete them to start cold).
set -euo pipefail

if [ $# -ne 1 ] || [ ! -f "$1" ]; then
  echo "usage: bash packaging/deb-install-test.sh PACKAGE.deb" >&2
  exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deb-install-test: needs root (debootstrap, mount and chroot)" >&2
  exit 1
fi
DEB=$(realpath "$1")
CACHE=${BQ_CACHE_DIR:-$HOME/.cache/bitstudio}
TARBALL=$CACHE/deb-root.tar
APT_CACHE=$CACHE/deb-root-apt
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE" "$APT_CACHE"

ROOT=$(mktemp -d /tmp/bitstudio-deb-root.XXXXXX)
chmod 755 "$ROOT" # apt's download user (_apt) must reach the lists
cleanup() {
  for m in var/cache/apt/archives dev proc; do
    if mountpoint -q "$ROOT/$m"; then umount "$ROOT/$m"; fi
  done
  rm -rf --one-file-system "$ROOT" # never into a mount that is still there
}
trap cleanup EXIT

start=$(date +%s)
if [ -f "$TARBALL" ]; then
  echo "== fresh root from the cached $TARBALL"
  tar -C "$ROOT" -xf "$TARBALL"
else
  echo "== debootstrap --variant=minbase bookworm (first run; cached afterwards as $TARBALL)"
  debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 || {
    tail -20 "$CACHE/debootstrap.log" >&2
    exit 1
  }
  # What a clean Debian 12 installation points apt at (stable updates and security included).
  cat >"$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
  rm -f "$ROOT"/var/cache/apt/archives/*.deb
  tar -C "$ROOT" -cf "$TARBALL.tmp" . && mv "$TARBALL.tmp" "$TARBALL"
fi
echo "   root ready after $(( $(date +%s) - start )) s"

cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
mount -t proc proc "$ROOT/proc"
mount --bind /dev "$ROOT/dev"
mount --bind "$APT_CACHE" "$ROOT/var/cache/apt/archives" # downloaded .debs survive for the next run
mkdir -p "$APT_CACHE/partial"
cp "$DEB" "$ROOT/tmp/bitstudio.deb"

in_root() { chroot "$ROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

echo "== apt-get install ./bitstudio.deb (its Depends resolved from the mirror)"
# apt downloads as root (APT::Sandbox::User): the root is a throwaway copy, and its _apt user cannot write to the
# bind-mounted cache of .debs.
in_root apt-get -o APT::Sandbox::User=root update -qq
in_root env DEBIAN_FRONTEND=noninteractive apt-get -o APT::Sandbox::User=root install -y -qq --no-install-recommends /tmp/bitstudio.deb \
  >"$CACHE/deb-install.log" 2>&1 || {
  tail -30 "$CACHE/deb-install.log" >&2
  exit 1
}
echo "   installed after $(( $(date +%s) - start )) s ($(grep -c '^Setting up' "$CACHE/deb-install.log") packages set up)"

echo "== the installed programs run"
in_root bitstudio-cli --version
# Into a file, then shown: `| head` would end the command with SIGPIPE under pipefail.
in_root bitstudio-cli info :demo > "$ROOT/tmp/info.txt"
head -5 "$ROOT/tmp/info.txt"
in_root env QT_QPA_PLATFORM=offscreen bitstudio --demo --screenshot /tmp/first-paint.png
if [ ! -s "$ROOT/tmp/first-paint.png" ]; then
  echo "deb-install-test: bitstudio --demo --screenshot wrote no /tmp/first-paint.png in the root" >&2
  exit 1
fi
echo "   bitstudio --demo painted its window ($(stat -c %s "$ROOT/tmp/first-paint.png") bytes of PNG)"
echo "== deb install test passed in $(( $(date +%s) - start )) s"
