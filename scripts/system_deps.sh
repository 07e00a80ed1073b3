#!/usr/bin/env bash
# Debian packages Qt + VTK need to run headless (Xvfb) on a bare Linux machine.
# Installs the missing ones when running as root; otherwise prints the apt-get command to run.
set -euo pipefail
PKGS=(xvfb xauth libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
      libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xkb1 libgl1 libegl1
      libdbus-1-3 libfontconfig1 libglib2.0-0)
command -v dpkg-query >/dev/null 2>&1 || { echo "system_deps: not a Debian/Ubuntu system; install Qt's xcb libs and Xvfb yourself"; exit 0; }
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = "0" ]; then
  echo "system_deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "system_deps: missing Debian packages: ${missing[*]}"
  echo "run: sudo apt-get install -y ${missing[*]}"
fi
