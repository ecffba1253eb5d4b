#!/usr/bin/env bash
# Build (once) the Debian bookworm root the Ansible tests boot with systemd-nspawn, and
# cache it as a zstd tarball outside the repository. Prints the tarball's path.
#
#   scripts/nspawn/build-root.sh [CACHE_DIR]     default /var/cache/exhibit-fleet-tests
#
# The root stands in for a freshly flashed Raspberry Pi OS / a Debian server: minbase
# plus what Ansible needs on a target (python3, python3-apt, python3-packaging, sudo,
# openssh-server) and systemd to boot. The Debian packages the roles install (mosquitto,
# postgresql, python3-venv) are pre-seeded here because the test network namespaces
# have no route to a Debian mirror; the roles still declare them (state: present), so a
# wrong package name fails the test. The file name carries a hash of the suite, the
# package list and RECIPE: change either (bump RECIPE when the steps below change) and a
# new root is built. Needs root, debootstrap and zstd.
set -euo pipefail

cache_dir=${1:-${EXHIBIT_TEST_CACHE:-/var/cache/exhibit-fleet-tests}}
suite=bookworm
packages=(
  # to boot and be reached
  systemd systemd-sysv dbus openssh-server sudo iproute2 ca-certificates
  # what Ansible needs on a target
  python3 python3-apt python3-packaging acl
  # what the roles install (see the comment above)
  python3-venv mosquitto postgresql
  # the fleet_api role's optional Prometheus and node exporter (disabled below: a machine
  # runs them only when the role enables them)
  prometheus prometheus-node-exporter
)

# The mirror this machine's apt uses (deb822 sources first, then sources.list).
mirror=${EXHIBIT_TEST_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources | grep -v security | awk '{print $2; exit}')
fi
if [ -z "$mirror" ]; then
  mirror=$(grep -hs '^deb ' /etc/apt/sources.list | grep -v security | awk '{print $2; exit}')
fi
mirror=${mirror:-http://deb.debian.org/debian}

RECIPE=3
stamp=$(printf '%s\n' "$suite" "$RECIPE" "${packages[@]}" | sha256sum | cut -c1-12)
tarball="$cache_dir/$suite-root-$stamp.tar.zst"
if [ -s "$tarball" ]; then
  echo "$tarball"
  exit 0
fi

for tool in debootstrap zstd; do
  command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] || {
    echo "build-root: $tool is missing: apt-get install debootstrap zstd systemd-container" >&2
    exit 1
  }
done
[ "$(id -u)" = 0 ] || { echo "build-root: must run as root (debootstrap)" >&2; exit 1; }

mkdir -p "$cache_dir"
work=$(mktemp -d "$cache_dir/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
root="$work/root"

echo "build-root: debootstrap $suite from $mirror (a few minutes the first time)" >&2
include=$(IFS=,; echo "${packages[*]}")
DEBIAN_FRONTEND=noninteractive /usr/sbin/debootstrap --variant=minbase --include="$include" \
  "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  exit 1
}

# Nothing from the build machine leaks in: no SSH host keys (regenerated at first boot),
# no machine-id (systemd makes one), empty apt caches.
rm -f "$root"/etc/ssh/ssh_host_*
: >"$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/archives/*.deb
cat >"$root/etc/systemd/system/ssh-keygen.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -A

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/ssh-keygen.service "$root/etc/systemd/system/multi-user.target.wants/ssh-keygen.service"
# PostgreSQL's cluster was created inside the chroot while the build machine may run its
# own server on 5432: Debian then picks 5433. A fresh server has 5432.
sed -i -E 's/^port = [0-9]+/port = 5432/' "$root"/etc/postgresql/*/main/postgresql.conf
# Installed is not enabled: the role starts Prometheus and node exporter where it is asked to.
rm -f "$root"/etc/systemd/system/multi-user.target.wants/prometheus.service \
  "$root"/etc/systemd/system/multi-user.target.wants/prometheus-node-exporter*.service \
  "$root"/etc/systemd/system/timers.target.wants/prometheus-node-exporter-*.timer
# No getty on a container console; nothing to wait for at boot.
rm -f "$root"/etc/systemd/system/getty.target.wants/*

echo "build-root: packing $tarball" >&2
tar -C "$root" --numeric-owner --xattrs -cf - . | zstd -q -T0 -6 -o "$work/root.tar.zst"
mv "$work/root.tar.zst" "$tarball"
# Older roots (another package list) are dead weight once nobody uses them: keep those of
# the last day, which another checkout (a branch with another list) may still boot.
find "$cache_dir" -maxdepth 1 -name "$suite-root-*.tar.zst" ! -path "$tarball" -mtime +0 -delete
echo "$tarball"
