"""systemd's notify protocol without a dependency: ``READY=1``, ``WATCHDOG=1``, ``STOPPING=1``.

Under ``Type=notify`` systemd passes ``NOTIFY_SOCKET`` (an AF_UNIX datagram socket; a
leading ``@`` means the abstract namespace) and, with ``WatchdogSec=``, ``WATCHDOG_USEC``
(and ``WATCHDOG_PID``, the process meant). The agent sends READY=1 once its outbox is
open and its inputs count (not after the broker connects: it must count offline), pings
the watchdog every ``WATCHDOG_USEC / 2`` while its worker thread keeps turning, and
sends STOPPING=1 when it shuts down. Outside systemd every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends notifications to systemd if it asked for them (see the module docstring)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._watchdog_s = self._watchdog_interval(env)
        self._socket: socket.socket | None = None

    @staticmethod
    def _watchdog_interval(env: Mapping[str, str]) -> float | None:
        pid = env.get("WATCHDOG_PID")
        if pid and pid != str(os.getpid()):
            return None  # meant for another process (e.g. our parent)
        try:
            usec = int(env.get("WATCHDOG_USEC", "0"))
        except ValueError:
            return None
        return usec / 2 / 1_000_000 if usec > 0 else None

    @property
    def enabled(self) -> bool:
        """Whether systemd is listening."""
        return bool(self._address)

    @property
    def watchdog_interval(self) -> float | None:
        """Seconds between watchdog pings (half of WatchdogSec), or None if not watched."""
        return self._watchdog_s if self.enabled else None

    def notify(self, *lines: str) -> bool:
        """Send ``lines`` (``KEY=value``) as one datagram; False if it could not be sent."""
        if not self.enabled:
            return False
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._socket.connect(self._address)
            self._socket.sendall("\n".join(lines).encode())
        except OSError as exc:
            log.warning("systemd notification %s failed: %s", lines, exc)
            self.close()
            return False
        return True

    def ready(self, status: str = "") -> bool:
        """Tell systemd the agent is up (counting, whether or not the broker is reachable)."""
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        """Ping the watchdog: the worker is alive."""
        return self.notify("WATCHDOG=1")

    def stopping(self) -> bool:
        """Tell systemd the agent is shutting down."""
        return self.notify("STOPPING=1")

    def status(self, text: str) -> bool:
        """Show ``text`` in ``systemctl status``."""
        return self.notify(f"STATUS={text}")

    def close(self) -> None:
        """Close the socket (it is reopened on the next notification)."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()
