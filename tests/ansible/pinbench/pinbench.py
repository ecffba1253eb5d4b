"""Test only: gpiozero mock pins that a test presses from outside the agent's process.

The Ansible tests deploy the real agent as a systemd service on a "Pi" that has no GPIO
chip. gpiozero picks its pins through the ``gpiozero_pin_factories`` entry point named
by ``GPIOZERO_PIN_FACTORY``; this package registers ``pinbench``: gpiozero's own
``MockFactory`` plus a Unix datagram socket in the service's runtime directory
(``$RUNTIME_DIRECTORY/pinbench.sock``). A datagram ``press 17 3`` drives pin 17 low and
high three times, 0.2 s apart (more than the agent's debounce), exactly as a finger on
a button wired to GPIO17 would, so the deployed agent counts and reports them.

Never installed in production: the role installs it only when the test lists it in
``exhibit_agent_extra_wheels``.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from pathlib import Path

from gpiozero.pins.mock import MockFactory

log = logging.getLogger(__name__)
SOCKET_NAME = "pinbench.sock"
PRESS_INTERVAL_S = 0.2


class PinBenchFactory(MockFactory):
    """MockFactory whose pins are driven by datagrams on a Unix socket."""

    def __init__(self) -> None:
        super().__init__()
        runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or "/tmp"
        self.socket_path = Path(runtime) / SOCKET_NAME
        self.socket_path.unlink(missing_ok=True)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.socket_path))
        threading.Thread(target=self._serve, name="pinbench", daemon=True).start()
        log.warning("pinbench: test pins, pressed through %s", self.socket_path)

    def _serve(self) -> None:
        while True:
            words = self._socket.recv(256).decode(errors="replace").split()
            try:
                if words[:1] == ["press"]:
                    self._press(int(words[1]), int(words[2]) if len(words) > 2 else 1)
                elif words[:1] == ["motion"]:
                    self._motion(int(words[1]))
                else:
                    log.warning("pinbench: unknown request %r", words)
            except (IndexError, ValueError) as exc:
                log.warning("pinbench: bad request %r: %s", words, exc)

    def _press(self, number: int, times: int) -> None:
        pin = self.pin(number)
        for _ in range(times):
            pin.drive_low()
            time.sleep(PRESS_INTERVAL_S / 2)
            pin.drive_high()
            time.sleep(PRESS_INTERVAL_S / 2)

    def _motion(self, number: int) -> None:
        pin = self.pin(number)
        pin.drive_high()
        time.sleep(1.0)
        pin.drive_low()
