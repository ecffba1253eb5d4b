"""Real agents on mock pins against real brokers (Mosquitto and the embedded one)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.embedded import EmbeddedBroker
from broker.messages import Assignment, utc_now
from broker.mosquitto import MosquittoProcess
from broker.topics import Channel, exhibit_topic
from device.core.clock import FakeClock
from device.gpio.mock import set_mock_distance, turn
from device.link.mqtt import MqttLink
from device.runtime.agent import Agent
from device.settings.wiring import DistanceInput, RotaryInput
from tests.device import hands
from tests.device.conftest import SettingsMaker, broker_settings, press
from tests.device.subscriber import Subscriber

ROOT = Path(__file__).parents[2]
COUNTS = exhibit_topic("exhibit-001", Channel.COUNTS)
STATUS = exhibit_topic("exhibit-001", Channel.STATUS)


@pytest.fixture
def subscribers() -> Iterator[list[Subscriber]]:
    """Subscribers made by a test are closed after it."""
    made: list[Subscriber] = []
    yield made
    for subscriber in made:
        subscriber.close()


def subscribe(
    made: list[Subscriber],
    port: int,
    *topics: str,
    client_id: str = "test-subscriber",
    persistent: bool = False,
) -> Subscriber:
    """A subscriber that confirms the count batches it receives, as the fleet does."""
    subscriber = Subscriber(
        port, list(topics), client_id=client_id, persistent=persistent, confirm=True
    )
    made.append(subscriber)
    return subscriber


def presence(factory: MockFactory) -> None:
    """A visitor in front of the PIR and gone again (``INSTANT_INPUTS``: no debounce)."""
    factory.pin(4).drive_high()
    factory.pin(4).drive_low()


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


@pytest.mark.filterwarnings("ignore::gpiozero.DistanceSensorNoEcho")  # a starved echo thread
def test_every_input_kind_counts_through_mosquitto(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    live = subscribe(subscribers, mosquitto.port, COUNTS, STATUS)
    clock = FakeClock()
    specs = [
        {"name": "start", "kind": "button", "pin": 17, "hold_s": 2},
        {"name": "pir", "kind": "motion", "pin": 4},
        {"name": "near", "kind": "distance", "echo_pin": 24, "trigger_pin": 23, "queue_len": 3},
        {"name": "track", "kind": "line", "pin": 5},
        {"name": "door", "kind": "beam", "pin": 6},
        {"name": "dial", "kind": "rotary", "a_pin": 20, "b_pin": 21, "steps_per_interaction": 4},
    ]
    settings = broker_settings(make_settings, mosquitto.port, inputs=specs, indicator={"pin": 27})
    with Agent(settings, pin_factory=factory, clock=clock) as agent:
        assert agent.wait_connected(10)
        bank = agent.inputs
        hands.press(factory, clock, 17, gap=1)  # a press ...
        hands.press(factory, clock, 17, hold=3, gap=1)  # ... and a press held for 3 s
        factory.pin(4).drive_high()  # a visitor stands in front of the PIR for 5 s
        clock.advance(5)
        factory.pin(4).drive_low()
        clock.advance(4)
        distance = settings.inputs[2]
        assert isinstance(distance, DistanceInput)
        set_mock_distance(factory, distance, 0.2)
        assert bank.device("near").wait_for_in_range(5)
        set_mock_distance(factory, distance, None)
        assert bank.device("near").wait_for_out_of_range(5)
        factory.pin(5).drive_high()  # the track loses its line (counted: no_line) ...
        clock.advance(1)
        factory.pin(5).drive_low()  # ... and finds it again (not counted)
        clock.advance(1)
        hands.press(factory, clock, 6, times=2, hold=0.2, gap=1)  # the beam broken twice
        rotary = settings.inputs[5]
        assert isinstance(rotary, RotaryInput)
        turn(factory, rotary, 9)
        turn(factory, rotary, -4)
        assert agent.flush(10)
    expected = {
        "start": 2,
        "start_hold": 1,
        "pir": 1,
        "near": 1,
        "track": 1,
        "door": 2,
        "dial_cw": 2,
        "dial_ccw": 1,
    }
    assert live.wait_for(lambda: live.counted() == expected)
    birth = next(status for status, _retained in live.statuses() if status.online)
    assert birth.inputs == list(expected)


def test_network_drop_then_reconnect_loses_nothing(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    live = subscribe(subscribers, mosquitto.port, COUNTS, STATUS)
    with Agent(broker_settings(make_settings, mosquitto.port), pin_factory=factory) as agent:
        assert agent.wait_connected(10)
        press(factory, 3)
        assert agent.flush(10)
        link = agent.link
        assert isinstance(link, MqttLink)
        first_session = link.session
        link.sever()
        press(factory, 4)  # counted while the link is down or coming back
        assert live.wait_for(lambda: link.session not in (None, first_session))
        assert agent.flush(10)
        assert live.wait_for(lambda: live.counted() == {"button": 7})
        # Subscribed again on the new connection: the fleet still reaches the exhibit.
        assignment = Assignment(exhibit_id="exhibit-001", visit_id=12, issued_at=utc_now())
        live.publish(exhibit_topic("exhibit-001", Channel.ASSIGNMENT), assignment.to_payload())
        assert live.wait_for(lambda: agent.visit_id == 12)
    # stop() returns once the broker has the goodbye; this subscriber gets it a moment later.
    assert live.wait_for(
        lambda: any(s.at is not None and not s.online for s, _r in live.statuses())
    )
    onlines = [s.online for s, _r in live.statuses()]
    assert onlines[:4] == [True, False, True, False]  # birth, will, birth again, goodbye


def test_broker_down_at_start_then_everything_is_delivered(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    # The fleet's ingest is a persistent session: what arrives while it is away is queued.
    ingest = Subscriber(mosquitto.port, [COUNTS], client_id="ingest", persistent=True)
    ingest.close()
    mosquitto.stop()

    with Agent(
        broker_settings(make_settings, mosquitto.port, bucket_seconds=3600), pin_factory=factory
    ) as agent:
        press(factory, 5)
        presence(factory)
        assert not agent.flush(0.3)  # sealed and stored, but nobody to deliver to
        assert agent.outbox_depth() == 3  # two buckets and the session
        assert not agent.wait_connected(0)

        mosquitto.start()  # same port, same persistence directory
        assert agent.wait_connected(10)
        assert not agent.flush(0.5)  # the broker has them; the fleet has not confirmed them
        assert agent.outbox_depth() == 3

        back = subscribe(subscribers, mosquitto.port, client_id="ingest", persistent=True)
        assert agent.flush(15)  # the fleet is back: what it stored leaves the outbox
        assert agent.outbox_depth() == 0

    assert back.wait_for(lambda: back.counted() == {"button": 5, "motion": 1})
    assert back.wait_for(lambda: [s.interactions for s in back.sessions()] == [6])


@pytest.mark.parametrize("kill_after", [120, 270])
def test_kill_9_mid_run_then_restart_delivers_every_press_once_per_seq(
    mosquitto: MosquittoProcess, tmp_path: Path, subscribers: list[Subscriber], kill_after: int
) -> None:
    counts = exhibit_topic("exhibit-kill", Channel.COUNTS)
    status = exhibit_topic("exhibit-kill", Channel.STATUS)
    live = subscribe(subscribers, mosquitto.port, counts, status)
    data_dir = tmp_path / "kill-agent"
    argv = [sys.executable, "-m", "tests.device.agent_child", str(mosquitto.port), str(data_dir)]

    child = subprocess.Popen([*argv, "400"], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout is not None
    recorded = 0
    for line in child.stdout:
        if line.startswith("recorded"):
            recorded = int(line.split()[1])
            if recorded >= kill_after:
                break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    for line in child.stdout.read().splitlines():  # what it printed before it died
        if line.startswith("recorded"):
            recorded = int(line.split()[1])
    child.stdout.close()
    assert recorded >= kill_after
    assert live.wait_for(lambda: any(s.at is None for s, _r in live.statuses()))  # last will

    drain = subprocess.run([*argv, "0"], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert drain.returncode == 0, drain.stdout + drain.stderr
    assert "flushed True" in drain.stdout

    by_seq: dict[int, set[str]] = {}
    for record in live.records():
        by_seq.setdefault(record.seq, set()).add(record.model_dump_json())
    assert sorted(by_seq) == list(range(1, max(by_seq) + 1)), "a seq is missing"
    assert all(len(bodies) == 1 for bodies in by_seq.values()), "a seq had two contents"
    total = live.counted()["button"]
    # Every press the child saw committed arrived; nothing beyond what it pressed.
    assert recorded <= total <= 400


def test_cli_run_speaks_sd_notify_and_stops_on_sigterm(
    mosquitto: MosquittoProcess, tmp_path: Path, subscribers: list[Subscriber]
) -> None:
    live = subscribe(subscribers, mosquitto.port, STATUS)
    systemd = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = f"@exhibit-agent-it-{uuid.uuid4().hex}"
    systemd.bind("\0" + address[1:])
    systemd.settimeout(15)
    env = {
        **os.environ,
        "GPIOZERO_PIN_FACTORY": "mock",
        "NOTIFY_SOCKET": address,
        "WATCHDOG_USEC": "400000",
        "EXHIBIT_EXHIBIT_ID": "exhibit-001",
        "EXHIBIT_BROKER_URL": f"mqtt://127.0.0.1:{mosquitto.port}",
        "EXHIBIT_DATA_DIR": str(tmp_path / "cli-agent"),
        "EXHIBIT_INPUTS": '[{"name": "button", "kind": "button", "pin": 17}]',
    }
    child = subprocess.Popen(
        [sys.executable, "-m", "device.runtime.cli", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        notes = [systemd.recv(4096).decode()]
        while notes.count("WATCHDOG=1") < 2:
            notes.append(systemd.recv(4096).decode())
        assert live.wait_for(lambda: any(s.online for s, _r in live.statuses()), timeout=15)
        child.send_signal(signal.SIGTERM)
        while notes[-1] != "STOPPING=1":
            notes.append(systemd.recv(4096).decode())
        _out, err = child.communicate(timeout=20)
    finally:
        systemd.close()
        if child.poll() is None:
            child.kill()
            child.communicate()
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


def test_bounced_presses_count_once_through_mosquitto(
    mosquitto: MosquittoProcess,
    make_settings: SettingsMaker,
    factory: MockFactory,
    subscribers: list[Subscriber],
) -> None:
    """The report's press on default settings, in real time: the broker carries one each."""
    live = subscribe(subscribers, mosquitto.port, COUNTS)
    pins = (17, 27, 22, 23)
    settings = broker_settings(
        make_settings,
        mosquitto.port,
        inputs=[{"name": f"b{n}", "kind": "button", "pin": pin} for n, pin in enumerate(pins)],
    )
    with Agent(settings, pin_factory=factory) as agent:
        assert agent.wait_connected(10)
        stretched = hands.press_many(
            factory, dict.fromkeys(pins, hands.ISSUE_PRESS), 5, hands.IDLE_S, seed=1
        )
        assert agent.wait_recorded(5)
        assert agent.flush(10)
    expected = {"b0": 5, "b1": 5, "b2": 5, "b3": 5}
    extra = {f"b{n}": stretched[pin] for n, pin in enumerate(pins)}
    assert live.wait_for(lambda: sum(live.counted().values()) >= 20)
    hands.assert_counted(live.counted(), expected, extra)
