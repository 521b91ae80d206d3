#!/usr/bin/env bash
# Installs the Debian packages spectop needs when they are missing.
# As root it runs apt-get; otherwise it prints the exact command and stops.
set -euo pipefail
missing=()
for pkg in "$@"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "spectop needs these Debian packages: ${missing[*]}" >&2
  echo "run:  sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
