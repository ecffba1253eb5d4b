"""What a scenario run proved, and the tables that show it (``exhibit-sim`` and the CI suite)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from rich import box
from rich.table import Table

from simulator.reconcile import PlaceDifference, Verdict


@dataclass(frozen=True, slots=True)
class ScenarioReport:
    """One scenario on one database: faults, interactions, and what went wrong (if anything)."""

    scenario: str
    database: str
    faults: int
    interactions: int
    at_risk: int
    lost: int
    duplicated: int
    misattributed: int
    seconds: float
    work_dir: Path
    fault_failures: list[str] = field(default_factory=list)
    differences: list[PlaceDifference] = field(default_factory=list)

    @classmethod
    def of(
        cls,
        scenario: str,
        database: str,
        verdict: Verdict,
        *,
        faults: int,
        fault_failures: list[str],
        seconds: float,
        work_dir: Path,
    ) -> ScenarioReport:
        """The report of a run that ended with ``verdict``."""
        return cls(
            scenario=scenario,
            database=database,
            faults=faults,
            interactions=verdict.interactions,
            at_risk=verdict.at_risk,
            lost=verdict.lost,
            duplicated=verdict.duplicated,
            misattributed=verdict.misattributed,
            seconds=seconds,
            work_dir=work_dir,
            fault_failures=list(fault_failures),
            differences=list(verdict.differences),
        )

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated or misattributed, and every fault's own check passed."""
        return not (self.differences or self.fault_failures)

    def summary_line(self) -> str:
        """The table's row as one sentence (for logs and narrow terminals)."""
        risk = f" (+{self.at_risk} at risk)" if self.at_risk else ""
        verdict = "ok" if self.ok else "FAIL"
        return (
            f"{self.scenario} on {self.database}: {self.faults} faults, "
            f"{self.interactions} interactions{risk}: lost {self.lost}, duplicated "
            f"{self.duplicated}, misattributed {self.misattributed}; "
            f"{self.seconds:.1f} s: {verdict}"
        )

    def problems(self) -> str:
        """Every difference and fault failure, one per line (empty when ok)."""
        lines = [f"fault check failed: {failure}" for failure in self.fault_failures]
        lines += [
            f"{d.place} {d.exhibit_id} {d.input}: ledger {d.expected}"
            + (f" (+{d.at_risk} at risk)" if d.at_risk else "")
            + f", API {d.reported}"
            for d in self.differences
        ]
        return "\n".join(lines)


def summary_table(reports: Iterable[ScenarioReport], *, title: str = "reliability") -> Table:
    """Scenarios, faults injected, interactions, lost, duplicated, misattributed, time."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("scenario", no_wrap=True)
    table.add_column("db", no_wrap=True)
    columns = ("faults", "interactions", "at risk", "lost", "duplicated", "misattributed", "s")
    for column in columns:
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("result", no_wrap=True)
    for r in reports:
        table.add_row(
            r.scenario,
            "pg" if r.database == "postgresql" else r.database,
            str(r.faults),
            str(r.interactions),
            str(r.at_risk),
            str(r.lost),
            str(r.duplicated),
            str(r.misattributed),
            f"{r.seconds:.1f}",
            "[green]ok[/green]" if r.ok else "[red]FAIL[/red]",
        )
    return table


def differences_table(differences: Iterable[PlaceDifference]) -> Table:
    """Where the API and the ledger disagree: place, exhibit, input, counts."""
    table = Table(title="differences: ledger vs fleet API")
    for column in ("visit", "exhibit", "input", "ledger", "at risk", "API", "diff"):
        table.add_column(column)
    for d in differences:
        table.add_row(
            str(d.place),
            d.exhibit_id,
            d.input,
            str(d.expected),
            str(d.at_risk) if d.at_risk else "",
            str(d.reported),
            f"{d.reported - d.expected:+d}",
        )
    return table
