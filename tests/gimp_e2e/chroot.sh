#!/usr/bin/env bash
# Build (or reuse) a Debian 13 "trixie" chroot with GIMP 3.0.4 for the real-GIMP end-to-end tests.
# Usage: chroot.sh [DIR]   (default $NST_GIMP_CHROOT or /var/cache/nst-gimp-chroot). Needs root.
# The chroot lives outside the clone so every checkout and CI run reuses it; a stamp file marks a
# finished build, so an interrupted build is redone instead of half-used.
set -euo pipefail
DIR=${1:-${NST_GIMP_CHROOT:-/var/cache/nst-gimp-chroot}}
MIRROR=${NST_DEBIAN_MIRROR:-http://deb.debian.org/debian}
STAMP="$DIR/.nst-gimp-ready"
# Bump when the package list changes, so cached chroots are upgraded instead of silently reused.
RECIPE=3
PACKAGES="gimp python3 python3-gi gir1.2-gimp-3.0 gir1.2-gegl-0.4 xvfb imagemagick
          xauth xdotool fonts-dejavu-core"

if [ "$(id -u)" != 0 ]; then
  echo "chroot.sh: needs root (debootstrap, chroot, mount --bind)" >&2
  exit 3
fi
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$RECIPE" ]; then
  echo "chroot ready: $DIR"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  apt-get install -y debootstrap >/dev/null 2>&1 || { apt-get update && apt-get install -y debootstrap; }
fi
if [ ! -x "$DIR/usr/bin/apt-get" ] || [ ! -f "$DIR/.nst-debootstrap-done" ]; then
  rm -rf "$DIR"
  mkdir -p "$DIR"
  debootstrap --variant=minbase trixie "$DIR" "$MIRROR"
  touch "$DIR/.nst-debootstrap-done"
fi
cp /etc/resolv.conf "$DIR/etc/resolv.conf" 2>/dev/null || true
chroot "$DIR" env DEBIAN_FRONTEND=noninteractive apt-get update -q
# shellcheck disable=SC2086
chroot "$DIR" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
  $PACKAGES
chroot "$DIR" gimp-console-3.0 --version
echo "$RECIPE" > "$STAMP"
echo "chroot ready: $DIR"
