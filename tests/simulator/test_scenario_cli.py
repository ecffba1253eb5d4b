"""``exhibit-sim scenario list | check | run`` and ``verify``'s new verdict, without sockets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from simulator.cli import main
from simulator.databases import database_url
from simulator.engine import fresh_work_dir
from simulator.errors import SimError
from simulator.fleet_client import FleetClient
from simulator.ledger import Ledger
from simulator.scenario_files import named_scenarios


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich wraps at the terminal's width; the messages checked here are long lines.
    monkeypatch.setenv("COLUMNS", "400")


def test_list_names_every_shipped_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "list"]) == 0
    out = capsys.readouterr().out
    for name in named_scenarios():
        assert name in out


def test_check_validates_each_file_and_exits_2_on_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nstart: 2026-03-02T06:00:00Z\nend: soon\nexhibits: [{id: e1}]\n")
    assert main(["scenario", "check", "normal-week", str(bad)]) == 2
    out = capsys.readouterr().out
    assert "ok: normal-week: 5 exhibits, 4 visits, 0 faults, 3401 interactions planned" in out
    assert f"{bad}:3: end: use an ISO 8601 time" in out


def test_run_of_an_unknown_scenario_says_which_exist(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scenario", "run", "no-such-scenario"]) == 2
    out = capsys.readouterr().out
    assert "no-such-scenario.yaml: cannot read it" in out
    assert "normal-week" in out


def test_verify_reports_lost_duplicated_and_misattributed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for _ in range(5):
        ledger.record(exhibit_id="a", input="button", at=at, visit_id=1)
    ledger.close()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/reports/usage":  # 3 in visit 1, 2 in no visit
            rows = [{"key": "a", "interactions": 3, "unassigned_interactions": 2}]
            return httpx.Response(200, json={"rows": rows})
        inputs = [{"input": "button", "count": 3}]
        return httpx.Response(200, json={"exhibits": [{"exhibit_id": "a", "inputs": inputs}]})

    original = FleetClient.__init__

    def with_fake(self: FleetClient, base_url: str, **kwargs: object) -> None:
        original(self, base_url, transport=httpx.MockTransport(handler))

    monkeypatch.setattr(FleetClient, "__init__", with_fake)
    assert main(["verify", "--api", "http://fleet", "--ledger", str(path)]) == 1
    out = capsys.readouterr().out
    assert "lost 0, duplicated 0, misattributed 2" in out
    assert "unassigned" in out


def test_a_run_starts_from_an_empty_work_dir_and_never_empties_a_foreign_one(
    tmp_path: Path,
) -> None:
    earlier = tmp_path / "run"
    (earlier / "mosquitto").mkdir(parents=True)
    (earlier / "ledger.jsonl").write_text("{}\n")
    fresh_work_dir(earlier)
    assert list(earlier.iterdir()) == []
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("precious")
    with pytest.raises(SimError, match="holds no earlier simulator run"):
        fresh_work_dir(foreign)
    assert (foreign / "thesis.tex").read_text() == "precious"


@pytest.mark.parametrize(
    ("admin", "expected"),
    [
        (
            "postgresql://postgres@127.0.0.1:5432/postgres",
            "postgresql+psycopg://postgres@127.0.0.1:5432/sim_1",
        ),
        (
            "postgresql+psycopg://u:secret@db.example:6432/test?sslmode=require",
            "postgresql+psycopg://u:secret@db.example:6432/sim_1?sslmode=require",
        ),
    ],
)
def test_a_run_database_lives_on_the_admin_connections_server(admin: str, expected: str) -> None:
    assert database_url(admin, "sim_1") == expected
