"""The host's side of the Ansible test bed: what a testbed creates outside its machines.

Network namespaces, bridges, tmpfs mounts and cgroups, all named ``exf*`` and owned by a
registered process (REGISTRY), so that ``sweep()`` can remove what a killed run left
behind without touching a run going on in parallel. ``tests/ansible/testbed.py`` builds
and boots the machines on top of these.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

PREFIX = "exf"
REGISTRY = Path("/run/exhibit-fleet-testbeds")  # tag -> pid of the process that owns it
# Where each machine gets a cgroup of its own (see Testbed.boot): the hierarchy systemd
# tracks units in (name=systemd on a legacy/hybrid host), the unified one, or both.
CGROUP_ROOTS = (
    Path("/sys/fs/cgroup/systemd"),
    Path("/sys/fs/cgroup/unified"),
    Path("/sys/fs/cgroup"),
)


def run(*argv: str, check: bool = True, **kwargs: object) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output as text, and raise with that output on failure."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)  # type: ignore[call-overload]
    if check and done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done  # type: ignore[no-any-return]


def kill_netns_processes(netns: str) -> None:
    # Only processes inside one of our own namespaces: what our containers left running.
    done = run("ip", "netns", "pids", netns, check=False)
    for pid in done.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)


def owned_by_a_live_process(tag: str) -> bool:
    try:
        pid = int((REGISTRY / tag).read_text())
    except (OSError, ValueError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_subnet() -> int:
    """A 10.213.N.0/24 that no interface of this host uses yet."""
    used = run("ip", "-4", "-o", "addr", "show", check=False).stdout
    for candidate in range(100 + os.getpid() % 50, 250):
        if f" 10.213.{candidate}." not in used:
            return candidate
    raise RuntimeError(
        "no free 10.213.N.0/24 for a testbed: run `python -m tests.ansible.testbed sweep`"
    )


def sweep() -> list[str]:
    """Remove what killed runs left behind; return what was removed.

    Only testbeds whose owning process is gone (see REGISTRY): a run going on in parallel
    keeps its machines.
    """
    removed: list[str] = []
    for line in run("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(f"{PREFIX}-") and not owned_by_a_live_process(name.split("-")[1]):
            kill_netns_processes(name)
            run("ip", "netns", "del", name, check=False)
            removed.append(name)
    mounts = run("findmnt", "-rn", "-o", "SOURCE,TARGET", "-t", "tmpfs", check=False).stdout
    for line in mounts.splitlines():
        source, _, target = line.partition(" ")
        tag = source.removeprefix("exf-machines-")
        if source.startswith("exf-machines-") and not owned_by_a_live_process(tag):
            run("umount", "--lazy", target, check=False)
            removed.append(target)
    for line in run("ip", "-o", "link", "show", "type", "bridge", check=False).stdout.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        tag = name.removeprefix(PREFIX).removesuffix("br")
        if name.startswith(PREFIX) and name.endswith("br") and not owned_by_a_live_process(tag):
            run("ip", "link", "del", name, check=False)
            removed.append(name)
    for root in CGROUP_ROOTS:
        for cgroup in root.glob(f"{PREFIX}-*-*") if (root / "cgroup.procs").exists() else ():
            if not owned_by_a_live_process(cgroup.name.split("-")[1]):
                remove_cgroup(cgroup)
                removed.append(str(cgroup))
    if REGISTRY.is_dir():
        for entry in REGISTRY.iterdir():
            if not owned_by_a_live_process(entry.name):
                entry.unlink(missing_ok=True)
    return removed


def join_cgroups(cgroups: list[Path]) -> None:
    """In the child, before exec: move this process into each of ``cgroups``."""
    for cgroup in cgroups:
        (cgroup / "cgroup.procs").write_text("0")


def remove_cgroup(cgroup: Path, timeout: float = 5.0) -> None:
    """Remove a cgroup and what the container's systemd made in it, deepest first.

    The killed container's processes may take a moment to leave it: retry until then.
    """
    deadline = time.monotonic() + timeout
    while cgroup.is_dir():
        for path in sorted(
            (p for p in cgroup.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
        ):
            with contextlib.suppress(OSError):
                path.rmdir()
        with contextlib.suppress(OSError):
            cgroup.rmdir()
        if time.monotonic() > deadline:
            return
        time.sleep(0.1)
