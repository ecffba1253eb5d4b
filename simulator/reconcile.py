"""Ground truth against the fleet's numbers: per place, then lost, duplicated, misattributed.

A *place* is where the fleet can count an exhibit's interaction: a visit of the ledger
(per input, from ``/visits/{id}/usage``), "no visit" (unassigned, per exhibit, from
``/reports/usage?group_by=exhibit``) and "another visit" (the rest of the report's total
over all visits). For each place the ledger expects ``E`` (plus up to ``r`` at-risk
presses, which may be counted or not) and the API reports ``R``.

Per exhibit, with surplus ``S`` and deficit ``D`` summed over its places:
``misattributed = min(S, D)`` (counted, but in the wrong place), ``lost = D - misattributed``
(the ledger has more than the API counts anywhere) and ``duplicated = S - misattributed``
(the API counts more than happened). Pure functions: no I/O here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from simulator.ledger import Key

UNASSIGNED = "unassigned"
OTHER = "other visits"
ALL_INPUTS = "(all)"
Place = int | str
"""A visit id, or UNASSIGNED, or OTHER."""


@dataclass(frozen=True, slots=True)
class PlaceDifference:
    """One place where the API disagrees with the ledger beyond the at-risk tolerance."""

    place: Place
    exhibit_id: str
    input: str
    expected: int
    reported: int
    at_risk: int = 0


@dataclass(frozen=True, slots=True)
class ExhibitTally:
    """What went wrong for one exhibit (all zero: nothing)."""

    lost: int = 0
    duplicated: int = 0
    misattributed: int = 0


@dataclass(slots=True)
class Verdict:
    """The outcome of one comparison."""

    interactions: int
    at_risk: int
    differences: list[PlaceDifference] = field(default_factory=list)
    tallies: dict[str, ExhibitTally] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        """Interactions the ledger has and the API counts nowhere."""
        return sum(t.lost for t in self.tallies.values())

    @property
    def duplicated(self) -> int:
        """Interactions the API counts more often than they happened."""
        return sum(t.duplicated for t in self.tallies.values())

    @property
    def misattributed(self) -> int:
        """Interactions counted in another visit or in none."""
        return sum(t.misattributed for t in self.tallies.values())

    @property
    def exact(self) -> bool:
        """Whether every place matches."""
        return not self.differences


def reconcile(
    expected: Counter[Key],
    at_risk: Counter[Key],
    by_visit: Counter[Key],
    exhibit_totals: dict[str, tuple[int, int]],
) -> Verdict:
    """Compare (see the module docstring).

    ``by_visit``: the API's counts per (visit, exhibit, input) for the ledger's visits;
    ``exhibit_totals``: per exhibit, (interactions in any visit, unassigned interactions).
    """
    places: dict[tuple[Place, str, str], list[int]] = {}  # [expected, at_risk, reported]

    def place(key: tuple[Place, str, str]) -> list[int]:
        return places.setdefault(key, [0, 0, 0])

    for (visit, exhibit, name), count in expected.items():
        place(_where(visit, exhibit, name))[0] += count
    for (visit, exhibit, name), count in at_risk.items():
        place(_where(visit, exhibit, name))[1] += count
    in_fetched: Counter[str] = Counter()
    for (visit, exhibit, name), count in by_visit.items():
        place(_where(visit, exhibit, name))[2] += count
        in_fetched[exhibit] += count
    exhibits = {key[1] for key in places}
    for exhibit in exhibits:
        in_visits, unassigned = exhibit_totals.get(exhibit, (in_fetched[exhibit], 0))
        place((UNASSIGNED, exhibit, ALL_INPUTS))[2] += unassigned
        place((OTHER, exhibit, ALL_INPUTS))[2] += in_visits - in_fetched[exhibit]

    verdict = Verdict(interactions=sum(expected.values()), at_risk=sum(at_risk.values()))
    surplus: Counter[str] = Counter()
    deficit: Counter[str] = Counter()
    for (where, exhibit, name), (want, risk, got) in sorted(places.items(), key=_order):
        tolerated = min(max(got, want), want + risk)
        surplus[exhibit] += max(0, got - tolerated)
        deficit[exhibit] += max(0, tolerated - got)
        if got != tolerated:
            verdict.differences.append(PlaceDifference(where, exhibit, name, want, got, risk))
    for exhibit in sorted(exhibits):
        wrong_place = min(surplus[exhibit], deficit[exhibit])
        verdict.tallies[exhibit] = ExhibitTally(
            lost=deficit[exhibit] - wrong_place,
            duplicated=surplus[exhibit] - wrong_place,
            misattributed=wrong_place,
        )
    return verdict


def _where(visit: int | None, exhibit: str, name: str) -> tuple[Place, str, str]:
    # The fleet reports unassigned interactions per exhibit only, not per input.
    return (UNASSIGNED, exhibit, ALL_INPUTS) if visit is None else (visit, exhibit, name)


def _order(item: tuple[tuple[Place, str, str], list[int]]) -> tuple[int, str, str, str]:
    (where, exhibit, name), _counts = item
    rank = where if isinstance(where, int) else 2**63
    return (rank, str(where), exhibit, name)
