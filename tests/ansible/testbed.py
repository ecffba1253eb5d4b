"""A throwaway fleet for the Ansible tests: Debian bookworm roots booted by systemd-nspawn.

Each machine is a copy of one cached root (``scripts/nspawn/build-root.sh``), booted with
a real systemd (``--boot``) in its own network namespace. A veth pair joins every
namespace to a bridge on the host, which is the Ansible controller: it reaches each
machine over real SSH as user ``ansible`` (key login, passwordless sudo), the way a
technician reaches a Pi or the fleet server. The machines reach each other and the
host through the bridge, and nothing else (no route to the internet).

Everything is torn down by ``Testbed.close()``, also after a failure; ``sweep()``
(``tests/ansible/hostside.py``, with the other host-side pieces: namespaces, bridges,
tmpfs mounts, cgroups) removes what a killed run left behind, named ``exf*``, and only
the container processes inside those namespaces.

Run by hand for debugging::

    python -m tests.ansible.testbed up server pi1     # prints SSH commands, waits for Enter
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from tests.ansible.hostside import (
    CGROUP_ROOTS,
    PREFIX,
    REGISTRY,
    free_subnet,
    join_cgroups,
    kill_netns_processes,
    remove_cgroup,
    run,
    sweep,
)

REPO = Path(__file__).resolve().parents[2]
BUILD_ROOT = REPO / "scripts" / "nspawn" / "build-root.sh"
CACHE_DIR = Path(os.environ.get("EXHIBIT_TEST_CACHE", "/var/cache/exhibit-fleet-tests"))
SSH_USER = "ansible"
BOOT_TIMEOUT_S = 150.0  # a boot takes 5-15 s; much more when the machine is busy
TMPFS_SIZE = "6G"  # three roots of ~0.6 GB each once deployed, with room to spare


def missing_tools() -> list[str]:
    """What this harness needs and cannot find (empty when it can run)."""
    needed = ["debootstrap", "systemd-nspawn", "ip", "zstd", "ssh", "ssh-keygen"]
    found = [tool for tool in needed if shutil.which(tool) or Path(f"/usr/sbin/{tool}").exists()]
    return [tool for tool in needed if tool not in found]


def ensure_root_tarball() -> Path:
    """Build the Debian root once (about 90 s), then reuse the cached tarball."""
    done = run("bash", str(BUILD_ROOT), str(CACHE_DIR))
    return Path(done.stdout.strip().splitlines()[-1])


@dataclass
class Machine:
    """One booted container: its name (= hostname), address on the bridge and root."""

    name: str
    address: str
    root: Path
    netns: str
    host_veth: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def ssh_argv(self, key: Path) -> list[str]:
        """The ssh command line that logs in as the Ansible user."""
        return [
            "ssh",
            "-i",
            str(key),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            f"{SSH_USER}@{self.address}",
        ]


@dataclass
class Testbed:
    """Machines on one bridge; use as a context manager so they are always torn down."""

    workdir: Path
    tarball: Path
    tag: str = field(default_factory=lambda: secrets.token_hex(2))
    subnet: int = field(default_factory=lambda: free_subnet())
    machines: dict[str, Machine] = field(default_factory=dict)
    key: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.key = self.workdir / "id_ed25519"
        self.bridge = f"{PREFIX}{self.tag}br"
        self._bridge_up = False
        self._lock = threading.Lock()
        # Who owns this testbed: sweep() leaves it alone while this process lives.
        REGISTRY.mkdir(parents=True, exist_ok=True)
        (REGISTRY / self.tag).write_text(str(os.getpid()))
        # The roots live in a tmpfs of their own: unpacked faster, and gone at once.
        self.machines_dir = self.workdir / "machines"
        self.machines_dir.mkdir(exist_ok=True)
        self._tmpfs = (
            run(
                "mount",
                "-t",
                "tmpfs",
                "-o",
                f"size={TMPFS_SIZE},mode=0755",
                "exf-machines",
                str(self.machines_dir),
                check=False,
            ).returncode
            == 0
        )

    @property
    def host_address(self) -> str:
        """The controller's address on the bridge (machines reach the host here)."""
        return f"10.213.{self.subnet}.1"

    def __enter__(self) -> Testbed:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- building ---------------------------------------------------------------------

    def add_all(self, names: list[str] | tuple[str, ...]) -> None:
        """Add several machines, unpacking their roots in parallel."""
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            for future in [pool.submit(self.add, name) for name in names]:
                future.result()

    def add(self, name: str) -> Machine:
        """Unpack a fresh root for ``name``, give it a user, a key and a network namespace."""
        with self._lock:
            if not self.key.exists():
                run(
                    "ssh-keygen",
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "exf-test",
                    "-f",
                    str(self.key),
                )
            if not self._bridge_up:
                run("ip", "link", "add", self.bridge, "type", "bridge")
                self._bridge_up = True
                run("ip", "addr", "add", f"{self.host_address}/24", "dev", self.bridge)
                run("ip", "link", "set", self.bridge, "up")
            index = len(self.machines) + 10
            machine = Machine(
                name=name,
                address=f"10.213.{self.subnet}.{index}",
                root=self.machines_dir / name,
                netns=f"{PREFIX}-{self.tag}-{name}",
                host_veth=f"{PREFIX}{self.tag}v{index}",
                log=self.workdir / f"{name}.console.log",
            )
            self.machines[name] = machine
        self._unpack(machine)
        with self._lock:
            self._network(machine)
        return machine

    def _unpack(self, machine: Machine) -> None:
        root = machine.root
        root.mkdir(parents=True)
        run(
            "tar",
            "--zstd",
            "--numeric-owner",
            "--xattrs",
            "-xf",
            str(self.tarball),
            "-C",
            str(root),
        )
        (root / "etc" / "hostname").write_text(machine.name + "\n")
        hosts = ["127.0.0.1 localhost", f"127.0.1.1 {machine.name}"]
        (root / "etc" / "hosts").write_text("\n".join(hosts) + "\n")
        run("chroot", str(root), "useradd", "--create-home", "--shell", "/bin/bash", SSH_USER)
        sudoers = root / "etc" / "sudoers.d" / SSH_USER
        sudoers.write_text(f"{SSH_USER} ALL=(ALL) NOPASSWD:ALL\n")
        sudoers.chmod(0o440)
        ssh_dir = root / "home" / SSH_USER / ".ssh"
        ssh_dir.mkdir(mode=0o700)
        (ssh_dir / "authorized_keys").write_text(Path(f"{self.key}.pub").read_text())
        run("chroot", str(root), "chown", "-R", f"{SSH_USER}:{SSH_USER}", f"/home/{SSH_USER}/.ssh")

    def _network(self, machine: Machine) -> None:
        ns = machine.netns
        run("ip", "netns", "add", ns)
        run(
            "ip",
            "link",
            "add",
            machine.host_veth,
            "type",
            "veth",
            "peer",
            "name",
            "host0",
            "netns",
            ns,
        )
        run("ip", "link", "set", machine.host_veth, "master", self.bridge, "up")
        run("ip", "-n", ns, "addr", "add", f"{machine.address}/24", "dev", "host0")
        run("ip", "-n", ns, "link", "set", "host0", "up")
        run("ip", "-n", ns, "link", "set", "lo", "up")
        run("ip", "-n", ns, "route", "add", "default", "via", self.host_address)

    # -- running ----------------------------------------------------------------------

    def boot(self) -> None:
        """Boot every machine that is not running yet and wait until each accepts SSH.

        Each nspawn starts in a cgroup of its own. With ``--keep-unit`` nspawn boots the
        container in the cgroup it was started in; machines sharing one would each run
        their systemd over the same ``system.slice/*.service`` cgroups, and units with
        the same name on two machines (every unit at boot, the agent on both Pis) race:
        seen as ``status=219/CGROUP`` failures, e.g. of systemd-user-sessions.service,
        which then leaves /run/nologin in place and SSH refused.
        """
        for machine in self.machines.values():
            if machine.process is not None:
                continue
            cgroups = self._cgroups(machine)
            log = machine.log.open("ab")
            machine.process = subprocess.Popen(
                [
                    "systemd-nspawn",
                    "-D",
                    str(machine.root),
                    "--machine",
                    machine.name,
                    "--register=no",
                    "--keep-unit",
                    "--boot",
                    f"--network-namespace-path=/run/netns/{machine.netns}",
                    "--console=passive",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=partial(join_cgroups, cgroups),
            )
            log.close()
        for machine in self.machines.values():
            self._wait_for_ssh(machine)

    def _cgroups(self, machine: Machine) -> list[Path]:
        """Make (and return) ``exf-TAG-NAME`` in every cgroup hierarchy we can use."""
        made = []
        for root in CGROUP_ROOTS:
            if (root / "cgroup.procs").exists():
                cgroup = root / f"{PREFIX}-{self.tag}-{machine.name}"
                cgroup.mkdir(exist_ok=True)
                made.append(cgroup)
        return made

    def _wait_for_ssh(self, machine: Machine) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        last = "no answer on port 22 yet"
        while time.monotonic() < deadline:
            assert machine.process is not None
            if machine.process.poll() is not None:
                raise RuntimeError(
                    f"{machine.name} stopped while booting:\n{self.console(machine)}"
                )
            try:
                with socket.create_connection((machine.address, 22), timeout=1):
                    pass
            except OSError as exc:
                last = f"port 22: {exc}"
                time.sleep(0.2)
                continue
            done = self.ssh(machine, "systemctl is-system-running --wait", check=False)
            state = done.stdout.strip()
            if state in {"running", "degraded"}:
                return
            last = f"ssh exit {done.returncode}, system state {state!r}: {done.stderr.strip()}"
            time.sleep(0.2)
        raise RuntimeError(
            f"{machine.name} was not up in {BOOT_TIMEOUT_S:.0f}s ({last}):\n"
            f"{self.console(machine)}\n{self.journal(machine)}"
        )

    def journal(self, machine: Machine, lines: int = 60) -> str:
        """The end of a machine's systemd journal, read from its root on the host."""
        done = subprocess.run(
            ["journalctl", "--no-pager", "-q", "-n", str(lines), "--root", str(machine.root)],
            capture_output=True,
            text=True,
            check=False,
        )
        return done.stdout or done.stderr

    def ssh(
        self, machine: Machine | str, command: str, *, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` on a machine as root (through sudo), over SSH."""
        target = self.machines[machine] if isinstance(machine, str) else machine
        return run(
            *target.ssh_argv(self.key), f"sudo sh -c {_quote(command)}", check=check, timeout=120
        )

    def console(self, machine: Machine) -> str:
        """The tail of a machine's console log (boot messages)."""
        try:
            return machine.log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # -- teardown ---------------------------------------------------------------------

    def close(self) -> None:
        """Pull the plug on every machine (they are thrown away) and remove all of it.

        Killing nspawn orphans the container; killing every process in the machine's
        network namespace then ends its PID 1 and with it the whole container.
        """
        for machine in self.machines.values():
            process = machine.process
            if process is not None and process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        for machine in self.machines.values():
            kill_netns_processes(machine.netns)
            run("ip", "netns", "del", machine.netns, check=False)
            run("ip", "link", "del", machine.host_veth, check=False)
        if self._bridge_up:
            run("ip", "link", "del", self.bridge, check=False)
            self._bridge_up = False
        for machine in self.machines.values():
            for root in CGROUP_ROOTS:
                remove_cgroup(root / f"{PREFIX}-{self.tag}-{machine.name}")
        if self._tmpfs:
            self._tmpfs = (
                run("umount", "--lazy", str(self.machines_dir), check=False).returncode != 0
            )
        shutil.rmtree(self.machines_dir, ignore_errors=True)
        (REGISTRY / self.tag).unlink(missing_ok=True)


def _quote(command: str) -> str:
    return "'" + command.replace("'", "'\"'\"'") + "'"


def main(argv: list[str]) -> int:
    """``up NAME...``: boot machines for a manual look; ``sweep``: clean a killed run."""
    if argv[:1] == ["sweep"]:
        print("\n".join(sweep()) or "nothing to remove")
        return 0
    if argv[:1] != ["up"] or len(argv) < 2:
        print(__doc__)
        return 2
    workdir = Path(os.environ.get("EXHIBIT_TESTBED_DIR", "/var/tmp/exf-testbed"))
    with Testbed(workdir, ensure_root_tarball()) as bed:
        for name in argv[1:]:
            bed.add(name)
        bed.boot()
        for machine in bed.machines.values():
            print(" ".join(machine.ssh_argv(bed.key)))
        input("machines are up; press Enter to tear them down ")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
