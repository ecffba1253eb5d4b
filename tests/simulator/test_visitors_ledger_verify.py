from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from simulator.cli import main
from simulator.errors import LedgerError
from simulator.fleet_client import FleetClient
from simulator.ledger import Ledger, totals
from simulator.verify import Difference, compare, verify
from simulator.visitors import script

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
INPUTS = {"sim-001": ["button", "motion"], "sim-002": ["button"]}


def test_script_is_repeatable_and_respects_the_minimum_gap() -> None:
    first = script(seed=7, exhibit_inputs=INPUTS, duration_s=120, min_gap_s=0.4)
    assert first == script(seed=7, exhibit_inputs=INPUTS, duration_s=120, min_gap_s=0.4)
    assert first != script(seed=8, exhibit_inputs=INPUTS, duration_s=120, min_gap_s=0.4)
    for exhibit_id, inputs in INPUTS.items():
        own = [t for t in first if t.exhibit_id == exhibit_id]
        assert own, "every exhibit gets visitors"
        assert {t.input for t in own} <= set(inputs)
        gaps = [b.at - a.at for a, b in itertools.pairwise(own)]
        assert min(gaps) >= 0.4 - 1e-9
        assert all(0 <= t.at < 120 for t in own)


def write_ledger(path: Path, entries: list[tuple[int | None, str, str]]) -> None:
    ledger = Ledger(path)
    for visit_id, exhibit_id, input_name in entries:
        ledger.record(exhibit_id=exhibit_id, input=input_name, at=AT, visit_id=visit_id)
    ledger.close()


def test_ledger_totals(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, [(1, "sim-001", "button")] * 3 + [(1, "sim-001", "motion")])
    write_ledger(path, [(2, "sim-002", "button")])  # a second run appends
    assert totals(path) == Counter(
        {(1, "sim-001", "button"): 3, (1, "sim-001", "motion"): 1, (2, "sim-002", "button"): 1}
    )


def test_ledger_errors_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    path.write_text('{"exhibit_id": "a", "input": "b", "visit_id": 1}\nnot json\n')
    with pytest.raises(LedgerError, match=r"ledger\.jsonl:2"):
        totals(path)
    with pytest.raises(LedgerError, match="run 'exhibit-sim run' first"):
        totals(tmp_path / "missing.jsonl")


def test_compare_lists_every_disagreement() -> None:
    expected = Counter({(1, "a", "button"): 3, (1, "a", "motion"): 2})
    reported = Counter({(1, "a", "button"): 3, (1, "a", "motion"): 1, (1, "b", "button"): 4})
    assert compare(expected, reported) == [
        Difference(1, "a", "motion", 2, 1),
        Difference(1, "b", "button", 0, 4),
    ]
    assert compare(expected, expected) == []


def fake_api(usage: dict[int, dict[str, dict[str, int]]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/reports/usage":  # per exhibit: in visits, and in none
            totals: dict[str, int] = {}
            for exhibits in usage.values():
                for exhibit_id, inputs in exhibits.items():
                    totals[exhibit_id] = totals.get(exhibit_id, 0) + sum(inputs.values())
            rows = [
                {"key": e, "interactions": n, "unassigned_interactions": 0}
                for e, n in sorted(totals.items())
            ]
            return httpx.Response(200, json={"group_by": "exhibit", "rows": rows})
        visit_id = int(request.url.path.split("/")[2])
        exhibits = [
            {
                "exhibit_id": exhibit_id,
                "total": sum(inputs.values()),
                "inputs": [{"input": k, "count": v} for k, v in sorted(inputs.items())],
            }
            for exhibit_id, inputs in sorted(usage[visit_id].items())
        ]
        return httpx.Response(200, json={"visit_id": visit_id, "exhibits": exhibits})

    return httpx.MockTransport(handler)


def test_verify_against_the_api_shape(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, [(5, "sim-001", "button")] * 2 + [(5, "sim-002", "motion")])
    exact = FleetClient(
        "http://fleet",
        transport=fake_api({5: {"sim-001": {"button": 2}, "sim-002": {"motion": 1}}}),
    )
    _, differences = verify(path, exact)
    assert differences == []
    short = FleetClient(
        "http://fleet", transport=fake_api({5: {"sim-001": {"button": 1}, "sim-002": {}}})
    )
    _, differences = verify(path, short)
    assert differences == [
        Difference(5, "sim-001", "button", 2, 1),
        Difference(5, "sim-002", "motion", 1, 0),
    ]


def test_verify_command_exits_1_and_prints_differences(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "ledger.jsonl"
    write_ledger(path, [(5, "sim-001", "button")] * 2)
    transport = fake_api({5: {"sim-001": {"button": 3}}})
    original = FleetClient.__init__

    def with_fake(self: FleetClient, base_url: str, **kwargs: object) -> None:
        original(self, base_url, transport=transport)

    monkeypatch.setattr(FleetClient, "__init__", with_fake)
    assert main(["verify", "--api", "http://fleet", "--ledger", str(path)]) == 1
    out = capsys.readouterr().out
    assert "sim-001" in out
    assert "+1" in out
    assert "FAIL: 1 difference(s)" in out
    assert json.loads(path.read_text().splitlines()[0])["visit_id"] == 5
