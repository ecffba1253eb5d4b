"""The exhibit-agent command: exit codes and one-line messages, the status report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from device.cli import EXIT_CONFIG, EXIT_FAILED, EXIT_OK, main
from device.events import Interaction
from device.outbox import Outbox

BUTTON = '{"name": "button", "kind": "button", "pin": 17}'


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid configuration in the environment; tests break one setting each."""
    monkeypatch.setenv("EXHIBIT_EXHIBIT_ID", "exhibit-001")
    monkeypatch.setenv("EXHIBIT_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("EXHIBIT_INPUTS", f"[{BUTTON}]")
    return tmp_path


@pytest.mark.parametrize(
    ("variable", "value", "names"),
    [
        (
            "EXHIBIT_INPUTS",
            '[{"name": "button", "kind": "lever", "pin": 17}]',
            "setting inputs[0].kind (EXHIBIT_INPUTS)",
        ),
        (
            "EXHIBIT_INPUTS",
            f'[{BUTTON}, {{"name": "pir", "kind": "motion", "pin": 17}}]',
            "pin 17 is used by both 'button' and 'pir'",
        ),
        ("EXHIBIT_BROKER_URL", "broker.local:1883", "setting broker_url (EXHIBIT_BROKER_URL)"),
        ("EXHIBIT_EXHIBIT_ID", "Exhibit_1", "setting exhibit_id (EXHIBIT_EXHIBIT_ID)"),
    ],
)
@pytest.mark.parametrize("command", ["run", "status"])
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


def test_status_of_a_fresh_exhibit(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["status"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "pending: 0" in out
    assert "oldest_seq: -" in out


def test_status_reports_pending_and_oldest(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outbox = Outbox(env / "outbox.sqlite3", bucket_seconds=60)
    wall = datetime(2026, 3, 2, 9, 0, 30, tzinfo=UTC)
    outbox.add(
        [Interaction("button", wall, 1030.0), Interaction("button", wall, 1130.0)],
        boot_id="b1",
        clock_synced=True,
    )
    outbox.seal_due(boot_id="b1", now_mono=1100.0)
    outbox.close()
    assert main(["status", "--json"]) == EXIT_OK
    report = json.loads(capsys.readouterr().out)
    assert report == {
        "exhibit_id": "exhibit-001",
        "outbox": str(env / "outbox.sqlite3"),
        "pending": 1,
        "oldest_seq": 1,
        "oldest_start": "2026-03-02T09:00:20+00:00",  # bucket 1020-1080 s
        "open_buckets": 1,
        "last_seq": 1,
    }


def test_run_without_gpio_is_a_one_line_failure(env: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-m", "device.cli", "run"],
        env={**os.environ, "GPIOZERO_PIN_FACTORY": "no-such-factory"},
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).parents[2],
    )
    assert child.returncode == EXIT_FAILED
    assert child.stderr.count("\n") == 1
    assert "GPIOZERO_PIN_FACTORY=mock" in child.stderr
    assert "Traceback" not in child.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("exhibit-agent ")
