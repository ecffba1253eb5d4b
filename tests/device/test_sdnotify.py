"""systemd's notify protocol, against real AF_UNIX datagram sockets (no systemd needed)."""

from __future__ import annotations

import os
import signal
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from device.core.clock import FakeClock
from device.outbox.store import Outbox
from device.runtime.agent import Agent
from device.runtime.sdnotify import Notifier
from tests.device.conftest import SettingsMaker
from tests.device.fakes import FakeLink


class Systemd:
    """The receiving end of NOTIFY_SOCKET."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + address[1:] if address.startswith("@") else address)

    def next(self, timeout: float = 5.0) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def until(self, wanted: str, timeout: float = 5.0) -> list[str]:
        seen = []
        while wanted not in seen:
            seen.append(self.next(timeout))
        return seen


@pytest.fixture
def systemd() -> Iterator[Systemd]:
    receiver = Systemd(f"@exhibit-agent-test-{uuid.uuid4().hex}")  # abstract namespace
    yield receiver
    receiver.sock.close()


def test_notifications_reach_an_abstract_socket(systemd: Systemd) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": systemd.address})
    assert notifier.enabled
    assert notifier.ready("counting 2 input(s)")
    assert systemd.next() == "READY=1\nSTATUS=counting 2 input(s)"
    assert notifier.watchdog()
    assert systemd.next() == "WATCHDOG=1"
    assert notifier.stopping()
    assert systemd.next() == "STOPPING=1"
    notifier.close()


def test_notifications_reach_a_socket_file() -> None:
    path = Path("/tmp") / f"exhibit-notify-{uuid.uuid4().hex[:8]}.sock"  # short: sun_path
    receiver = Systemd(str(path))
    try:
        notifier = Notifier({"NOTIFY_SOCKET": str(path)})
        assert notifier.status("all good")
        assert receiver.next() == "STATUS=all good"
        notifier.close()
    finally:
        receiver.sock.close()
        path.unlink()


def test_the_watchdog_interval_is_half_of_watchdog_usec_and_only_for_us() -> None:
    socket_env = {"NOTIFY_SOCKET": "@x"}
    assert Notifier({**socket_env, "WATCHDOG_USEC": "30000000"}).watchdog_interval == 15.0
    own = {**socket_env, "WATCHDOG_USEC": "2000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(own).watchdog_interval == 1.0
    assert Notifier({**own, "WATCHDOG_PID": "1"}).watchdog_interval is None  # not meant for us
    assert Notifier({"WATCHDOG_USEC": "2000000"}).watchdog_interval is None  # no socket


def test_outside_systemd_nothing_is_sent() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.watchdog() is False


def test_ready_first_watchdog_only_while_the_worker_turns_stopping_last(
    systemd: Systemd,
    make_settings: SettingsMaker,
    factory: MockFactory,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": systemd.address, "WATCHDOG_USEC": "200000"})
    # No broker at all: READY must not wait for one (the agent counts offline).
    agent = Agent(
        make_settings(), pin_factory=factory, clock=clock, link=FakeLink(), notifier=notifier
    )
    wedged, release = threading.Event(), threading.Event()
    original = Outbox.add

    def stuck_add(self: Outbox, *args: object, **kwargs: object) -> int:
        wedged.set()
        release.wait(10)  # a worker stuck in I/O, e.g. a dying SD card
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Outbox, "add", stuck_add)
    seen: list[str] = []
    quiet_while_wedged: list[str] = []

    def systemd_side() -> None:
        try:
            seen.extend(systemd.until("READY=1\nSTATUS=counting 2 input(s)"))
            seen.extend(systemd.until("WATCHDOG=1"))
            seen.extend(systemd.until("WATCHDOG=1"))
            factory.pin(17).drive_low()  # pressed, held past the debounce: the worker
            clock.advance(0.05)  # takes the press and gets stuck
            assert wedged.wait(5)
            try:  # one ping may already be on its way; then none for a whole interval
                while True:
                    quiet_while_wedged.append(systemd.next(timeout=0.5))
            except TimeoutError:
                pass
            release.set()
            seen.extend(systemd.until("WATCHDOG=1"))  # healthy again
        finally:
            release.set()
            os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=systemd_side)
    helper.start()
    agent.run_forever()
    helper.join(10)
    seen.extend(systemd.until("STOPPING=1"))
    assert seen[0] == "READY=1\nSTATUS=counting 2 input(s)"
    assert quiet_while_wedged in ([], ["WATCHDOG=1"])
    assert seen[-1] == "STOPPING=1"
    assert agent.interactions_recorded == 1
