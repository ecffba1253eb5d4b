"""Test only: gpiozero mock pins that a test presses from outside the agent's process.

The Ansible tests deploy the real agent as a systemd service on a "Pi" that has no GPIO
chip, with ``GPIOZERO_PIN_FACTORY=mock``: gpiozero's own ``MockFactory``. Plain mock pins
can only be driven from inside the process, so the test also sets
``GPIOZERO_MOCK_PIN_CLASS=pinbench``, gpiozero's plug-in point for the mock pin class
(entry point group ``gpiozero_mock_pin_classes``), which this package registers:
``PinBenchPin`` is a ``MockPin`` that also listens on a Unix datagram socket in the
service's runtime directory (``$RUNTIME_DIRECTORY/pinbench.sock``). A datagram
``press 17 3`` drives GPIO17 low and high three times, 0.2 s apart (more than the agent's
debounce), exactly as a finger on a button wired to GPIO17 would, so the deployed agent
counts and reports them.

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
from typing import Any, ClassVar

from gpiozero.pins.mock import MockPin

log = logging.getLogger(__name__)
SOCKET_NAME = "pinbench.sock"
PRESS_INTERVAL_S = 0.2


class PinBenchPin(MockPin):
    """A MockPin that a datagram on the process's pinbench socket can drive."""

    pins: ClassVar[dict[int, PinBenchPin]] = {}
    _server_lock: ClassVar[threading.Lock] = threading.Lock()
    _server: ClassVar[socket.socket | None] = None

    def __init__(self, factory: Any, info: Any, **kwargs: Any) -> None:
        super().__init__(factory, info, **kwargs)
        PinBenchPin.pins[int(info.name.removeprefix("GPIO"))] = self
        PinBenchPin._serve_once()

    @classmethod
    def _serve_once(cls) -> None:
        with cls._server_lock:
            if cls._server is not None:
                return
            runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0] or "/tmp"
            path = Path(runtime) / SOCKET_NAME
            path.unlink(missing_ok=True)
            cls._server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            cls._server.bind(str(path))
            threading.Thread(target=cls._serve, args=(cls._server,), daemon=True).start()
            log.warning("pinbench: mock pins, pressed through %s", path)

    @classmethod
    def _serve(cls, server: socket.socket) -> None:
        while True:
            words = server.recv(256).decode(errors="replace").split()
            try:
                if words[:1] == ["press"]:
                    cls._press(int(words[1]), int(words[2]) if len(words) > 2 else 1)
                elif words[:1] == ["motion"]:
                    cls._motion(int(words[1]))
                else:
                    log.warning("pinbench: unknown request %r", words)
            except (IndexError, KeyError, ValueError) as exc:
                log.warning("pinbench: bad request %r: %r", words, exc)

    @classmethod
    def _press(cls, number: int, times: int) -> None:
        pin = cls.pins[number]
        for _ in range(times):
            pin.drive_low()
            time.sleep(PRESS_INTERVAL_S / 2)
            pin.drive_high()
            time.sleep(PRESS_INTERVAL_S / 2)

    @classmethod
    def _motion(cls, number: int) -> None:
        pin = cls.pins[number]
        pin.drive_high()
        time.sleep(1.0)
        pin.drive_low()
