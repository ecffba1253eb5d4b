"""Real agents on mock pins against real brokers (Mosquitto and the embedded one).

Counts, status and the last will, credentials, and ``exhibit-agent run`` under systemd's
notify protocol. Every input kind: test_integration_inputs.py; custody through a
network drop, a broker away and a kill -9: test_integration_custody.py.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.embedded import EmbeddedBroker
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.runtime.agent import Agent
from tests.device.conftest import (
    SettingsMaker,
    agent_run,
    broker_settings,
    presence,
    press,
    subscribe,
)
from tests.device.subscriber import Subscriber

COUNTS = exhibit_topic("exhibit-001", Channel.COUNTS)


STATUS = exhibit_topic("exhibit-001", Channel.STATUS)


def exercise_counts_and_status(
    port: int, make_settings: SettingsMaker, factory: MockFactory, made: list[Subscriber]
) -> None:
    live = subscribe(made, port, COUNTS, STATUS)
    agent = Agent(broker_settings(make_settings, port), pin_factory=factory)
    agent.start()
    try:
        assert agent.wait_connected(10)
        press(factory, 7)
        for _ in range(2):
            presence(factory)
        assert agent.flush(10)
        assert agent.outbox_depth() == 0
        assert live.wait_for(lambda: live.counted() == {"button": 7, "motion": 2})
        assert live.wait_for(lambda: len(live.sessions()) == 1)
        assert live.sessions()[0].interactions == 9  # one burst on the exhibit

        late = subscribe(made, port, STATUS, client_id="latecomer")
        assert late.wait_for(lambda: bool(late.statuses()))
        birth, retained = late.statuses()[0]
        assert retained
        assert birth.online is True
        assert birth.inputs == ["button", "motion"]
        assert birth.boot_id == live.records()[0].boot_id
        assert birth.agent_version
        assert birth.config_hash == agent.settings.config_hash()
    finally:
        agent.stop()
    assert live.wait_for(lambda: any(not s.online for s, _r in live.statuses()))
    offline = [s for s, _r in live.statuses() if not s.online]
    assert offline[-1].at is not None  # the explicit goodbye, not the last will


def exercise_last_will(
    port: int, make_settings: SettingsMaker, factory: MockFactory, made: list[Subscriber]
) -> None:
    live = subscribe(made, port, STATUS)
    agent = Agent(broker_settings(make_settings, port), pin_factory=factory)
    agent.start()
    assert agent.wait_connected(10)
    assert live.wait_for(lambda: any(s.online for s, _r in live.statuses()))
    agent.crash()  # the socket goes away without DISCONNECT
    assert live.wait_for(lambda: not live.statuses()[-1][0].online)
    will = live.statuses()[-1][0]
    assert will.at is None
    assert will.exhibit_id == "exhibit-001"

    late = subscribe(made, port, STATUS, client_id="latecomer")
    assert late.wait_for(lambda: bool(late.statuses()))
    assert late.statuses()[0] == (will, True)


def test_counts_and_status_through_mosquitto(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    exercise_counts_and_status(mosquitto.port, make_settings, factory, subscribers)


def test_counts_and_status_through_the_embedded_broker(
    embedded_broker: EmbeddedBroker,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    exercise_counts_and_status(embedded_broker.port, make_settings, factory, subscribers)


def test_last_will_through_mosquitto(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    exercise_last_will(mosquitto.port, make_settings, factory, subscribers)


def test_last_will_through_the_embedded_broker(
    embedded_broker: EmbeddedBroker,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    exercise_last_will(embedded_broker.port, make_settings, factory, subscribers)


def test_cli_run_speaks_sd_notify_and_stops_on_sigterm(
    mosquitto: MosquittoProcess, tmp_path: Path, subscribers: list[Subscriber]
) -> None:
    live = subscribe(subscribers, mosquitto.port, STATUS)
    button = [{"name": "button", "kind": "button", "pin": 17}]
    with agent_run(
        mosquitto.port, tmp_path / "cli-agent", button, notify_timeout=15, WATCHDOG_USEC="400000"
    ) as (child, systemd):
        notes = [systemd.recv(4096).decode()]
        while notes.count("WATCHDOG=1") < 2:
            notes.append(systemd.recv(4096).decode())
        assert live.wait_for(lambda: any(s.online for s, _r in live.statuses()), timeout=15)
        child.send_signal(signal.SIGTERM)
        while notes[-1] != "STOPPING=1":
            notes.append(systemd.recv(4096).decode())
        _out, err = child.communicate(timeout=20)
    assert child.returncode == 0, err
    assert notes[0] == "READY=1\nSTATUS=counting 1 input(s)"
    assert live.wait_for(lambda: not live.statuses()[-1][0].online)
    assert live.statuses()[-1][0].at is not None


def test_credentials_are_used_and_a_refusal_keeps_counts_local(
    tmp_path: Path,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
    mosquitto: MosquittoProcess,
) -> None:
    passwd = shutil.which("mosquitto_passwd")
    if passwd is None:
        pytest.skip("mosquitto_passwd is not installed (Debian package mosquitto)")
    password_file = tmp_path / "passwd"
    for user, secret in (("exhibit-001", "right"), ("reader", "reader")):
        flag = ["-c"] if not password_file.exists() else []
        subprocess.run([passwd, *flag, "-b", str(password_file), user, secret], check=True)
    mosquitto.stop()
    secured = MosquittoProcess(
        tmp_path / "secured",
        port=mosquitto.port,
        extra_config=f"allow_anonymous false\npassword_file {password_file}\n",
    )
    with secured:
        reader = Subscriber(
            secured.port, [COUNTS], username="reader", password="reader", confirm=True
        )
        subscribers.append(reader)
        wrong = Agent(
            broker_settings(make_settings, secured.port, username="exhibit-001", password="wrong"),
            pin_factory=factory,
        )
        with wrong:
            press(factory, 2)
            assert not wrong.wait_connected(1.0)
            assert wrong.wait_recorded(5)
            assert wrong.indicator.error is not None
            assert "Not authorized" in wrong.indicator.error
        right = Agent(
            broker_settings(make_settings, secured.port, username="exhibit-001", password="right"),
            pin_factory=factory,
        )
        with right:
            assert right.wait_connected(10)
            press(factory, 1)
            assert right.flush(10)
        # The refused agent's two presses were kept and went out with the next one.
        assert reader.wait_for(lambda: reader.counted() == {"button": 3})
