#!/usr/bin/env bash
# Debian packages the project needs beyond Python wheels: ffmpeg/ffprobe (tests check
# streams and clips with it), a compiler for wheels without a binary, and Chromium with a
# font for the console's browser tests, and nats-server (multi-server mode; the cluster
# tests start their own). Installs only what is missing; needs root (or
# sudo) the first time.
set -euo pipefail

PACKAGES=(ffmpeg gcc chromium fonts-dejavu-core nats-server)

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing system packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "run as root: apt-get install ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
