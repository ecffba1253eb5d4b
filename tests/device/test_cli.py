"""The exhibit-agent command: exit codes, one-line messages, status, provision, self-test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from broker.messages import Assignment
from device.core.clock import FakeClock
from device.core.events import Interaction
from device.ops.selftest import request_dir
from device.outbox.store import Outbox
from device.runtime.agent import Agent
from device.runtime.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_IDENTITY, EXIT_OK, main
from device.settings.config import load_settings
from tests.device.fakes import FakeLink, eventually
from tests.device.hands import press

ROOT = Path(__file__).parents[2]
BUTTON = '{"name": "button", "kind": "button", "pin": 17}'


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid configuration in the environment; tests break one setting each."""
    machine = tmp_path / "machine"
    machine.mkdir()
    (machine / "machine-id").write_text("0123456789abcdef0123456789abcdef\n")
    (machine / "cpuinfo").write_text("processor : 0\nSerial : 10000000abcdef01\n")
    data = tmp_path / "data"
    for name, value in {
        "EXHIBIT_EXHIBIT_ID": "exhibit-001",
        "EXHIBIT_DATA_DIR": str(data),
        "EXHIBIT_INPUTS": f"[{BUTTON}]",
        "EXHIBIT_MACHINE_ID_FILE": str(machine / "machine-id"),
        "EXHIBIT_CPUINFO_FILE": str(machine / "cpuinfo"),
        "EXHIBIT_SD_CID_FILE": str(machine / "absent"),
        "EXHIBIT_IDENTITY_BLINK_S": "0",
    }.items():
        monkeypatch.setenv(name, value)
    return data


BAD_CONFIGS = [
    pytest.param(
        "EXHIBIT_INPUTS",
        '[{"name": "button", "kind": "lever", "pin": 17}]',
        "setting inputs[0].kind (EXHIBIT_INPUTS): unknown input kind 'lever'",
        id="unknown-input-kind",
    ),
    pytest.param(
        "EXHIBIT_INPUTS",
        f'[{BUTTON}, {{"name": "pir", "kind": "motion", "pin": 17}}]',
        "pin 17 is used by both 'button' and 'pir'",
        id="pin-used-twice",
    ),
    pytest.param(
        "EXHIBIT_BROKER_URL",
        "mqtts://broker.example.org:8883",
        "setting username (EXHIBIT_USERNAME): mqtts://broker.example.org:8883 needs credentials",
        id="missing-credentials",
    ),
    pytest.param(
        "EXHIBIT_PASSWORD",
        "secret",
        "setting username (EXHIBIT_USERNAME): a password is set without a username",
        id="password-without-username",
    ),
    pytest.param(
        "EXHIBIT_BROKER_URL",
        "broker.local:1883",
        "setting broker_url (EXHIBIT_BROKER_URL)",
        id="bad-broker-url",
    ),
    pytest.param(
        "EXHIBIT_EXHIBIT_ID", "Exhibit_1", "setting exhibit_id (EXHIBIT_EXHIBIT_ID)", id="bad-id"
    ),
    pytest.param(
        "EXHIBIT_INPUTS",
        '[{"name": "button", "kind": "button", "pin": 17, "release_debounce_s": "-1"}]',
        "setting inputs[0].release_debounce_s (EXHIBIT_INPUTS): Input should be greater than "
        "or equal to 0; use seconds between 0 and 60 that a release must hold, e.g. 0.03",
        id="bad-release-debounce",
    ),
    pytest.param(
        "EXHIBIT_BEHAVIOURS",
        '[{"input": "button", "event": "beam_broken", "output": "lamp", "action": "on"}]',
        "setting behaviours[0].event (EXHIBIT_BEHAVIOURS): a button input has no "
        "'beam_broken' event; use press or release or hold",
        id="bad-behaviour-event",
    ),
    pytest.param(
        "EXHIBIT_OUTPUTS",
        '[{"name": "lamp", "kind": "led", "pin": 40}]',
        "setting outputs[0].pin (EXHIBIT_OUTPUTS): 40 is above 27; use the BCM GPIO number "
        "0-27 the LED is wired to, e.g. 5",
        id="bad-output-pin",
    ),
]


@pytest.mark.parametrize(("variable", "value", "names"), BAD_CONFIGS)
@pytest.mark.parametrize("command", ["run", "status", "self-test", "provision"])
def test_bad_config_exits_2_with_one_line_naming_the_setting(
    env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
    variable: str,
    value: str,
    names: str,
) -> None:
    monkeypatch.setenv(variable, value)
    assert main([command]) == EXIT_CONFIG
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("exhibit-agent: ")
    assert names in lines[0]
    assert "Traceback" not in captured.err


def test_a_missing_tls_file_is_a_bad_config_too(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("EXHIBIT_BROKER_URL", "mqtts://broker:8883")
    monkeypatch.setenv("EXHIBIT_USERNAME", "exhibit-001")
    monkeypatch.setenv("EXHIBIT_PASSWORD", "secret")
    monkeypatch.setenv("EXHIBIT_TLS_CA_FILE", "/etc/exhibit-agent/missing-ca.crt")
    assert main(["run"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert err.startswith("exhibit-agent: setting tls_ca_file (EXHIBIT_TLS_CA_FILE): ")
    assert "secret" not in err


def test_a_bad_config_in_a_real_process_prints_one_line_and_no_traceback(env: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "device.runtime.cli", "run"],
        env={**os.environ, "EXHIBIT_INPUTS": '[{"name": "b", "kind": "lever", "pin": 17}]'},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert child.returncode == EXIT_CONFIG
    assert child.stdout == ""
    assert child.stderr.count("\n") == 1
    assert "unknown input kind 'lever'" in child.stderr


def test_status_of_a_fresh_exhibit(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "pending: 0" in out
    assert "oldest_seq: -" in out
    assert "identity: not provisioned" in out
    assert "running: False" in out


def test_status_reports_depth_last_ack_clock_and_assignment(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outbox = Outbox(env / "outbox.sqlite3", bucket_seconds=60)
    wall = datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)
    outbox.add(
        [Interaction("button", wall, 1030.0), Interaction("button", wall, 1130.0)],
        boot_id="b1",
        clock_synced=True,
    )
    outbox.seal_due(boot_id="b1", now_mono=1100.0)
    outbox.set_meta("visit_id", 42)
    outbox.set_meta("last_ack_at", "2026-03-02T09:05:00+00:00")
    outbox.close()
    assert main(["provision"]) == EXIT_OK
    capsys.readouterr()
    assert main(["status", "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert isinstance(report.pop("clock_synced"), bool)
    assert report.pop("boot_id")
    assert report == {
        "exhibit_id": "exhibit-001",
        "running": False,
        "identity": "ok",
        "outbox": str(env / "outbox.sqlite3"),
        "pending": 1,
        "oldest_seq": 1,
        "oldest_start": "2026-03-02T09:00:20+00:00",  # bucket 1020-1080 s
        "open_buckets": 1,
        "last_seq": 1,
        "last_ack_at": "2026-03-02T09:05:00+00:00",
        "retained": 0,
        "retained_from_seq": 1,
        "visit_id": 42,
        "self_test": None,
    }


def test_run_without_gpio_is_a_clear_failure(env: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "device.runtime.cli", "run"],
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "no-such-factory"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
    )
    assert child.returncode == EXIT_FAILED
    last = child.stderr.splitlines()[-1]
    assert last.startswith("exhibit-agent: no usable GPIO pin library for input 'button'")
    assert "GPIOZERO_PIN_FACTORY=mock" in last
    assert "Traceback" not in child.stderr


def test_provision_then_a_clone_on_another_board_exits_3_and_says_why(
    env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["provision"]) == EXIT_OK
    assert "Pi serial: 10000000abcdef01" in capsys.readouterr().out
    cpuinfo = Path(os.environ["EXHIBIT_CPUINFO_FILE"])
    cpuinfo.write_text("Serial : 10000000feedbeef\n")  # the same card, another Pi

    assert main(["run"]) == EXIT_IDENTITY
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert "identity mismatch for exhibit-001: Pi serial was 10000000abcdef01" in err[0]
    assert "nothing is published" in err[0]
    assert not (env / "outbox.sqlite3").exists()  # it stopped before touching anything

    assert main(["provision"]) == EXIT_IDENTITY  # not without --force
    capsys.readouterr()
    assert main(["provision", "--force"]) == EXIT_OK
    assert main(["status", "--json"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["identity"] == "ok"


def test_self_test_asks_the_running_agent_and_prints_each_input(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    factory: MockFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(
        "EXHIBIT_INPUTS", f'[{BUTTON}, {{"name": "door", "kind": "beam", "pin": 6}}]'
    )
    settings = load_settings()
    clock = FakeClock()
    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=clock, link=link) as agent:
        link.connect()
        outcome: list[int] = []
        asking = threading.Thread(target=lambda: outcome.append(main(["self-test"])))
        asking.start()
        # The service picks the request file up; the technician presses the button only.
        eventually(lambda: agent.self_testing, what="the service to open the window")
        assert not any(request_dir(env).glob("request-*"))  # consumed
        press(factory, clock)
        assert agent.wait_recorded(5)  # the press is handled before the window closes
        clock.advance(settings.self_test_seconds)
        asking.join(10)
    assert outcome == [EXIT_FAILED]
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("self-test local-")
    assert out[0].endswith("FAILED")
    assert out[1:] == [
        "  button  seen",
        "  door    NOT SEEN",
        "  not counted as visitors' (self-test presses): button 1",
    ]
    published = link.published("/selftest")
    assert published[-1].message.retain is True
    assert b'"door":false' in published[-1].message.payload
    assert link.counted() == {}  # the technician's presses are no visitor's


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("exhibit-agent ")


def test_assignment_survives_in_the_outbox_for_status(
    env: Path, capsys: pytest.CaptureFixture[str], factory: MockFactory
) -> None:
    settings = load_settings()
    link = FakeLink(auto_ack=True)
    with Agent(settings, pin_factory=factory, clock=FakeClock(), link=link) as agent:
        link.connect()
        assignment = Assignment(
            exhibit_id="exhibit-001", visit_id=7, issued_at=datetime(2026, 3, 1, tzinfo=UTC)
        )
        link.deliver("fleet/v1/exhibits/exhibit-001/assignment", assignment.to_payload())
        eventually(lambda: agent.visit_id == 7, what="the assignment")
        assert main(["status", "--json"]) == EXIT_OK
        report = json.loads(capsys.readouterr().out)
        assert (report["visit_id"], report["running"]) == (7, True)
