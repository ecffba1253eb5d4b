#!/usr/bin/env bash
# Install the real components the tests talk to, where we can (root on Debian/Ubuntu).
# Without root, print what is missing and how to install it; the tests then skip
# visibly outside CI and fail under CI=true.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
have mosquitto || missing+=(mosquitto)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "missing: ${missing[*]} -- install with: sudo apt-get install ${missing[*]}" >&2
fi
