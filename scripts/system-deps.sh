#!/usr/bin/env bash
# Install and start the real components the tests talk to, where we can (root on
# Debian/Ubuntu). Without root, print what is missing and how to get it; the tests then
# skip visibly outside CI and fail under CI=true.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }
as_root() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; }

missing=()
have mosquitto || missing+=(mosquitto)
# The hostile-client tests use Mosquitto's own C clients with an exhibit's credentials.
have mosquitto_sub || missing+=(mosquitto-clients)
# Browser tests drive Debian's Chromium (Playwright cannot download its own browser here).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The Ansible suite boots Debian roots with systemd-nspawn and reaches them over SSH.
have debootstrap || missing+=(debootstrap)
have systemd-nspawn || missing+=(systemd-container)
have zstd || missing+=(zstd)
have ssh || missing+=(openssh-client)
have ip || missing+=(iproute2)
# promtool checks and unit-tests ops/prometheus (Debian ships it in the prometheus package;
# installed without recommends, so without node exporter).
have promtool || missing+=(prometheus)
# The Latvian texts of the pages are spell-checked (diacritics) with Debian's dictionary.
have hunspell || missing+=(hunspell)
[ -f /usr/share/hunspell/lv_LV.dic ] || missing+=(hunspell-lv)
# PostgreSQL: only when no server answers already (FLEET_TEST_DATABASE_URL may point elsewhere).
if [ -z "${FLEET_TEST_DATABASE_URL:-}" ] && ! have pg_ctlcluster; then
  missing+=(postgresql)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if as_root; then
    echo "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing: ${missing[*]} -- install with: sudo apt-get install ${missing[*]}" >&2
  fi
fi

# A PostgreSQL cluster that is installed but not running (a fresh container): start it.
if [ -z "${FLEET_TEST_DATABASE_URL:-}" ] && have pg_ctlcluster && as_root; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    echo "starting PostgreSQL $version"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  # The tests connect as postgres over TCP without a password (trust, as on our CI machines).
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atc 'select 1' >/dev/null 2>&1; then
    echo "PostgreSQL at 127.0.0.1:5432 does not accept user postgres without a password;" \
      "set FLEET_TEST_DATABASE_URL to a server the tests may create databases on" >&2
  fi
fi
