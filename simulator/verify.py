"""``exhibit-sim verify``: the ledger's ground truth against the fleet API's numbers."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from simulator.fleet_client import FleetClient
from simulator.ledger import Key, totals
from simulator.reconcile import Verdict, reconcile


@dataclass(frozen=True, slots=True)
class Difference:
    """One (visit, exhibit, input) whose count the API reports differently."""

    visit_id: int | None
    exhibit_id: str
    input: str
    expected: int
    reported: int


def reported_totals(client: FleetClient, visit_ids: set[int]) -> Counter[Key]:
    """The API's counts per (visit, exhibit, input) for the given visits."""
    counts: Counter[Key] = Counter()
    for visit_id in sorted(visit_ids):
        usage = client.visit_usage(visit_id)
        for exhibit in usage["exhibits"]:
            for entry in exhibit["inputs"]:
                counts[(visit_id, exhibit["exhibit_id"], entry["input"])] += int(entry["count"])
    return counts


def compare(expected: Counter[Key], reported: Counter[Key]) -> list[Difference]:
    """Every key where the two disagree, sorted."""
    keys = sorted(set(expected) | set(reported), key=lambda k: (k[0] or 0, k[1], k[2]))
    return [
        Difference(key[0], key[1], key[2], expected[key], reported[key])
        for key in keys
        if expected[key] != reported[key]
    ]


def verify(
    ledger_path: Path, client: FleetClient, *, wait_s: float = 0.0, poll_s: float = 0.5
) -> tuple[Counter[Key], list[Difference]]:
    """Compare until equal or ``wait_s`` has passed (data may still be in flight).

    Ledger lines that name no visit can never match and show up as differences.
    """
    expected = totals(ledger_path)
    visit_ids = {key[0] for key in expected if key[0] is not None}
    deadline = time.monotonic() + wait_s
    while True:
        differences = compare(expected, reported_totals(client, visit_ids))
        if not differences or time.monotonic() >= deadline:
            return expected, differences
        time.sleep(poll_s)


def check(
    ledger_path: Path, client: FleetClient, *, wait_s: float = 0.0, poll_s: float = 0.5
) -> Verdict:
    """Compare every place an interaction can be counted, lost / duplicated / misattributed.

    Polls until everything matches or ``wait_s`` has passed (see ``simulator.reconcile``).
    """
    expected = totals(ledger_path)
    at_risk = totals(ledger_path, at_risk=True)
    visit_ids = {key[0] for key in expected + at_risk if key[0] is not None}
    deadline = time.monotonic() + wait_s
    while True:
        verdict = reconcile(
            expected, at_risk, reported_totals(client, visit_ids), client.exhibit_totals()
        )
        if verdict.exact or time.monotonic() >= deadline:
            return verdict
        time.sleep(poll_s)
