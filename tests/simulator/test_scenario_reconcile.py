"""Ledger against the API: lost, duplicated, misattributed, and the at-risk tolerance."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from simulator.fleet_client import FleetClient
from simulator.ledger import Ledger, totals
from simulator.reconcile import (
    ALL_INPUTS,
    OTHER,
    UNASSIGNED,
    PlaceDifference,
    Verdict,
    reconcile,
)
from simulator.verify import check

C = Counter[tuple[Any, str, str]]


def tally(
    expected: C, reported: C, totals_: dict[str, tuple[int, int]], risk: C | None = None
) -> tuple[Verdict, tuple[int, int, int]]:
    verdict = reconcile(expected, risk or Counter(), reported, totals_)
    return verdict, (verdict.lost, verdict.duplicated, verdict.misattributed)


def test_an_exact_match_has_no_differences() -> None:
    expected = Counter({(1, "a", "button"): 5, (None, "a", "button"): 2})
    verdict, found = tally(expected, Counter({(1, "a", "button"): 5}), {"a": (5, 2)})
    assert verdict.exact
    assert found == (0, 0, 0)
    assert verdict.interactions == 7


def test_lost_and_duplicated() -> None:
    expected = Counter({(1, "a", "button"): 5, (1, "b", "button"): 5})
    reported = Counter({(1, "a", "button"): 3, (1, "b", "button"): 6})
    verdict, found = tally(expected, reported, {"a": (3, 0), "b": (6, 0)})
    assert found == (2, 1, 0)
    assert verdict.tallies["a"].lost == 2
    assert verdict.tallies["b"].duplicated == 1
    assert verdict.differences == [
        PlaceDifference(1, "a", "button", 5, 3),
        PlaceDifference(1, "b", "button", 5, 6),
    ]


@pytest.mark.parametrize(
    ("reported", "totals_", "wrong_place"),
    [
        # counted in the other visit of the ledger
        (Counter({(1, "a", "button"): 3, (2, "a", "button"): 7}), {"a": (10, 0)}, 2),
        # counted in no visit
        (Counter({(1, "a", "button"): 5, (2, "a", "button"): 3}), {"a": (8, 2)}, 2),
        # counted in a visit the ledger does not name
        (Counter({(1, "a", "button"): 5, (2, "a", "button"): 4}), {"a": (10, 0)}, 1),
    ],
)
def test_misattributed_is_counted_in_the_wrong_place(
    reported: C, totals_: dict[str, tuple[int, int]], wrong_place: int
) -> None:
    expected = Counter({(1, "a", "button"): 5, (2, "a", "button"): 5})
    verdict, found = tally(expected, reported, totals_)
    assert found == (0, 0, wrong_place)
    places = {d.place for d in verdict.differences}
    assert places <= {1, 2, UNASSIGNED, OTHER}


def test_unassigned_is_compared_per_exhibit() -> None:
    expected = Counter({(None, "a", "button"): 2, (None, "a", "beam"): 1})
    verdict, found = tally(expected, Counter(), {"a": (0, 2)})
    assert found == (1, 0, 0)
    assert verdict.differences == [PlaceDifference(UNASSIGNED, "a", ALL_INPUTS, 3, 2)]


@pytest.mark.parametrize(
    ("counted", "lost", "duplicated"), [(4, 1, 0), (5, 0, 0), (6, 0, 0), (7, 0, 0), (8, 0, 1)]
)
def test_at_risk_presses_may_be_counted_once_or_not_at_all(
    counted: int, lost: int, duplicated: int
) -> None:
    expected = Counter({(1, "a", "button"): 5})
    risk = Counter({(1, "a", "button"): 2})
    verdict, found = tally(
        expected, Counter({(1, "a", "button"): counted}), {"a": (counted, 0)}, risk
    )
    assert found == (lost, duplicated, 0)
    assert verdict.at_risk == 2


def fake_fleet(
    usage: dict[int, dict[str, int]], totals_: dict[str, tuple[int, int]]
) -> FleetClient:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/reports/usage":
            rows = [
                {"key": e, "interactions": v, "unassigned_interactions": u}
                for e, (v, u) in totals_.items()
            ]
            return httpx.Response(200, json={"rows": rows})
        visit_id = int(request.url.path.split("/")[2])
        counts = usage.get(visit_id, {})
        exhibits = [
            {"exhibit_id": "a", "inputs": [{"input": k, "count": n} for k, n in counts.items()]}
        ]
        return httpx.Response(200, json={"visit_id": visit_id, "exhibits": exhibits})

    return FleetClient("http://fleet", transport=httpx.MockTransport(handler))


def test_check_reads_the_ledger_with_its_at_risk_lines(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    at = datetime(2026, 3, 2, 9, tzinfo=UTC)
    for _ in range(3):
        ledger.record(exhibit_id="a", input="button", at=at, visit_id=4)
    ledger.record(exhibit_id="a", input="button", at=at, visit_id=4, at_risk=True)
    ledger.record(exhibit_id="a", input="beam", at=at, visit_id=None)
    ledger.close()
    assert json.loads(path.read_text().splitlines()[3])["at_risk"] is True
    assert totals(path) == Counter({(4, "a", "button"): 3, (None, "a", "beam"): 1})
    assert totals(path, at_risk=True) == Counter({(4, "a", "button"): 1})

    assert check(path, fake_fleet({4: {"button": 4}}, {"a": (4, 1)})).exact
    assert check(path, fake_fleet({4: {"button": 3}}, {"a": (3, 1)})).exact
    short = check(path, fake_fleet({4: {"button": 2}}, {"a": (2, 1)}))
    assert (short.lost, short.duplicated, short.misattributed) == (1, 0, 0)
