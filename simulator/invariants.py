"""The campaign's checker: the ledger against the fleet, beyond counts per place.

Counts (:mod:`simulator.reconcile`) say lost, duplicated and misattributed. Two more
invariants from the ledger:

- **Unplaced, openly.** An interaction the fleet could not place is not misattributed if
  it is in the fleet's unplaced set (``GET /unplaced``) with its true visit among the
  record's candidate visits (or, for a touch of no visit, ``outside_visits_possible``),
  and every candidate visit reports it (``completeness.unplaced_interactions``, status
  never ``final``). Per exhibit and input, the deficit of each true visit is explained by
  unplaced interactions that name it, up to how many there are; what stays is
  misattributed, silently. A fleet without ``/unplaced`` has no unplaced set.
- **Sessions and dwell.** From the ledger's true times: a session is a burst of touches
  of one exhibit, each less than ``session_idle_s`` after the last, split where the agent
  splits it (a new boot, a visit assignment reaching the exhibit). The ledger holds when
  a gesture started, the agent when it counted it (after bounce and debounce, a dial's
  detents: up to ``EDGE_SLACK_S`` later), so a gap within that of the idle time may go
  either way: the count is then a range. Per visit and exhibit, the fleet's ``sessions``
  must lie in that range and, where no gap was in doubt, ``in_use_s`` must be the summed
  dwell within ``DWELL_SLACK_S`` a session. Only where the counts are exact and no press
  was at risk: elsewhere the counts already say what is wrong.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from simulator.ledger import Key
from simulator.reconcile import ALL_INPUTS, UNASSIGNED, Verdict

DWELL_SLACK_S = 1.0
EDGE_SLACK_S = 1.0


@dataclass(frozen=True, slots=True)
class Touch:
    """One ledger line."""

    exhibit_id: str
    input: str
    at: datetime
    visit_id: int | None
    at_risk: bool


@dataclass(slots=True)
class Findings:
    """What the checker found for one run (all empty / zero: nothing wrong)."""

    lost: int = 0
    duplicated: int = 0
    misattributed: int = 0
    unplaced: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated, silently misattributed; sessions and reports right."""
        return not (self.lost or self.duplicated or self.misattributed or self.problems)


def read_ledger(path: Path) -> list[Touch]:
    """Every ledger line, in file order."""
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            entry = json.loads(line)
            found.append(
                Touch(
                    entry["exhibit_id"],
                    entry["input"],
                    datetime.fromisoformat(entry["at"]),
                    entry["visit_id"],
                    bool(entry.get("at_risk")),
                )
            )
    return found


def unplaced_capacity(
    records: Iterable[dict[str, Any]],
) -> tuple[Counter[Key], Counter[tuple[str, str]]]:
    """From ``/unplaced`` records (not assigned by staff): per (candidate visit, exhibit,
    input) the interactions that may be there, and per (exhibit, input) how many in all.

    Visit ``None`` stands for "no visit" (``outside_visits_possible``). Session records
    carry interactions already counted by count records: left out.
    """
    by_place: Counter[Key] = Counter()
    total: Counter[tuple[str, str]] = Counter()
    for record in records:
        if record.get("kind") != "count" or record.get("assigned_visit_id") is not None:
            continue
        exhibit, name, count = record["exhibit_id"], record["input"], int(record["interactions"])
        total[(exhibit, name)] += count
        for visit in record.get("candidate_visit_ids") or []:
            by_place[(visit, exhibit, name)] += count
        if record.get("outside_visits_possible"):
            by_place[(None, exhibit, name)] += count
    return by_place, total


def judge_counts(
    verdict: Verdict, capacity: Counter[Key], unplaced: Counter[tuple[str, str]]
) -> Findings:
    """Lost, duplicated, misattributed once unplaced interactions explain what they can."""
    findings = Findings(unplaced=sum(unplaced.values()))
    deficit: Counter[str] = Counter()
    surplus: Counter[str] = Counter()
    explained: Counter[str] = Counter()
    left = Counter(unplaced)
    for d in verdict.differences:
        tolerated = min(max(d.reported, d.expected), d.expected + d.at_risk)
        gap = tolerated - d.reported
        if gap > 0 and d.place != UNASSIGNED and d.input != ALL_INPUTS:
            visit = d.place if isinstance(d.place, int) else None
            can = min(gap, capacity[(visit, d.exhibit_id, d.input)], left[(d.exhibit_id, d.input)])
            left[(d.exhibit_id, d.input)] -= can
            explained[d.exhibit_id] += can
            gap -= can
        deficit[d.exhibit_id] += max(0, gap)
        surplus[d.exhibit_id] += max(0, -gap)
    for exhibit in set(deficit) | set(surplus) | set(explained):
        # Explained interactions sit in "unassigned": that much surplus there is expected.
        extra = max(0, surplus[exhibit] - explained[exhibit])
        wrong = min(extra, deficit[exhibit])
        findings.misattributed += wrong
        findings.lost += deficit[exhibit] - wrong
        findings.duplicated += extra - wrong
    return findings


def reported_on_candidates(
    usage: dict[int, dict[str, Any]], capacity: Counter[Key], fleet_has_unplaced: bool
) -> list[str]:
    """Each visit with unplaced candidates says so: their number, and a status not ``final``."""
    if not fleet_has_unplaced:
        return []
    problems = []
    per_visit: Counter[tuple[int, str]] = Counter()
    for (visit, exhibit, _name), count in capacity.items():
        if visit is not None:
            per_visit[(visit, exhibit)] += count
    for (visit, exhibit), count in sorted(per_visit.items()):
        entry = _exhibit(usage.get(visit), exhibit)
        completeness = (entry or {}).get("completeness") or {}
        shown = completeness.get("unplaced_interactions")
        if shown != count or completeness.get("status") == "final":
            problems.append(
                f"visit {visit} {exhibit}: {count} unplaced interactions may be its own, the "
                f"visit reports {shown} (status {completeness.get('status')})"
            )
    return problems


@dataclass(frozen=True, slots=True)
class SessionRange:
    """Sessions of one visit and exhibit by the ledger: at least, at most, and their dwell."""

    low: int
    high: int
    dwell_s: float
    """Summed dwell (s) if no gap was in doubt (``low == high``)."""


def expected_sessions(
    touches: list[Touch], idle_s: float, splits: dict[str, list[datetime]]
) -> dict[tuple[int | None, str], SessionRange]:
    """Per (true visit, exhibit): the sessions and dwell the ledger implies (module doc)."""
    bursts: dict[tuple[int | None, str], list[float]] = defaultdict(list)
    joined: Counter[tuple[int | None, str]] = Counter()  # gaps the agent may have split
    split: Counter[tuple[int | None, str]] = Counter()  # gaps the agent may have joined
    idle = timedelta(seconds=idle_s)
    slack = timedelta(seconds=EDGE_SLACK_S)
    ordered = sorted((t for t in touches if not t.at_risk), key=lambda t: (t.exhibit_id, t.at))
    for exhibit, group in itertools.groupby(ordered, key=lambda t: t.exhibit_id):
        cuts = sorted(splits.get(exhibit, []))
        first: Touch | None = None
        last: Touch | None = None
        for touch in group:
            if first is None or last is None or _new_session(last, touch, idle, cuts):
                if first is not None and last is not None:
                    bursts[(first.visit_id, exhibit)].append((last.at - first.at).total_seconds())
                first = touch
            elif abs((touch.at - last.at) - idle) <= slack:
                joined[(touch.visit_id, exhibit)] += 1
            if (
                last is not None
                and touch.at - last.at >= idle
                and abs((touch.at - last.at) - idle) <= slack
                and touch.visit_id == last.visit_id
            ):
                split[(touch.visit_id, exhibit)] += 1
            last = touch
        if first is not None and last is not None:
            bursts[(first.visit_id, exhibit)].append((last.at - first.at).total_seconds())
    found = {}
    for key, dwells in bursts.items():
        n = len(dwells)
        found[key] = SessionRange(max(1, n - split[key]), n + joined[key], sum(dwells))
    return found


def _new_session(last: Touch, touch: Touch, idle: timedelta, cuts: list[datetime]) -> bool:
    if touch.at - last.at >= idle or touch.visit_id != last.visit_id:
        return True
    return any(last.at < cut <= touch.at for cut in cuts)


def check_sessions(
    expected: dict[tuple[int | None, str], SessionRange],
    usage: dict[int, dict[str, Any]],
    skip: set[tuple[int, str]],
) -> list[str]:
    """Sessions and dwell per visit and exhibit against the fleet's usage (see module doc)."""
    problems = []
    for (visit, exhibit), want in sorted(
        expected.items(), key=lambda item: (item[0][0] or 0, item[0][1])
    ):
        if visit is None or (visit, exhibit) in skip:
            continue
        entry = _exhibit(usage.get(visit), exhibit) or {}
        got = int(entry.get("sessions") or 0)
        in_use = entry.get("in_use_s")
        if not want.low <= got <= want.high:
            span = str(want.low) if want.low == want.high else f"{want.low}-{want.high}"
            problems.append(f"visit {visit} {exhibit}: {got} sessions, the ledger has {span}")
        elif (
            want.low == want.high
            and entry.get("in_use_basis") == "sessions"
            and in_use is not None
            and abs(float(in_use) - want.dwell_s) > DWELL_SLACK_S * max(1, got)
        ):
            problems.append(
                f"visit {visit} {exhibit}: in use {float(in_use):.1f} s, the ledger's "
                f"sessions last {want.dwell_s:.1f} s"
            )
    return problems


def _exhibit(usage: dict[str, Any] | None, exhibit: str) -> dict[str, Any] | None:
    for entry in (usage or {}).get("exhibits", []):
        if entry.get("exhibit_id") == exhibit:
            found: dict[str, Any] = entry
            return found
    return None
