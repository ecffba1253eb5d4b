"""One agent per data directory: an exclusive ``flock`` on ``data_dir/agent.lock``.

Two agents on one outbox would hand out the same seqs twice. The lock also tells
``exhibit-agent self-test`` whether the service is running (then it asks the service)
or not (then it runs the self-test itself). The kernel drops the lock when the process
dies, kill -9 included, so a stale lock file never blocks a restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from device.core.errors import AlreadyRunning

LOCK_FILE = "agent.lock"


class InstanceLock:
    """The lock of one data directory; ``acquire()`` raises AlreadyRunning if it is held."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock or raise AlreadyRunning; creates the data directory if needed."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AlreadyRunning(
                f"another agent is running on {self.path.parent} (it holds {self.path}); "
                "stop it first (systemctl stop exhibit-agent)"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (also happens when the process ends)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)


def agent_running(data_dir: Path) -> bool:
    """Whether some agent holds the lock of ``data_dir`` right now (changes nothing)."""
    path = data_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False  # never started here (or not ours to read)
    try:
        # A shared lock is refused while an agent holds its exclusive one; read-only, so
        # ``status`` works for any user who can read the data directory.
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the shared lock if we got it
    return False
