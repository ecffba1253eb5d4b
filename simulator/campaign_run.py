"""``exhibit-sim campaign``: generated scenarios against the real broker and fleet, judged.

Each seed: :func:`simulator.campaign.generate` writes ``WORK/seed-N/scenario.yaml``, the
engine runs it against real Mosquitto and the fleet API (``WORK/seed-N/run``), and the
checker (:mod:`simulator.invariants`) judges the ledger against the fleet while it still
runs. A failing seed prints the one command that replays it. ``--table`` writes the
soak table (Markdown): seeds, faults, interactions, lost, duplicated, misattributed,
unplaced.
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml
from rich import box
from rich.console import Console
from rich.table import Table

from simulator.campaign import generate
from simulator.databases import Backend
from simulator.errors import SimError
from simulator.fleet_client import FleetClient
from simulator.invariants import (
    Findings,
    check_sessions,
    expected_sessions,
    judge_counts,
    read_ledger,
    reported_on_candidates,
    unplaced_capacity,
)
from simulator.ledger import Key
from simulator.reconcile import Verdict
from simulator.scenario import Scenario
from simulator.scenario_checks import checkout_moments, unreachable
from simulator.scenario_faults import boots
from simulator.scenario_files import load_scenario

DEFAULT_WORK = Path("sim-runs") / "campaign"
VERIFY_WAIT_S = 20.0


@dataclass(slots=True)
class SeedResult:
    """One seed's run and verdict."""

    seed: int | str
    """The seed, or the scenario file checked like a seed."""
    database: str
    faults: int = 0
    kinds: str = ""
    interactions: int = 0
    findings: Findings = field(default_factory=Findings)
    differences: list[str] = field(default_factory=list)
    seconds: float = 0.0
    work_dir: Path = Path()

    @property
    def ok(self) -> bool:
        """Nothing lost, duplicated or silently misattributed; every other check passed."""
        return self.findings.ok

    @property
    def replay(self) -> str:
        """The one command that runs this seed again."""
        db = " --database postgresql" if self.database == "postgresql" else ""
        which = f"--seed {self.seed}" if isinstance(self.seed, int) else f"--scenario {self.seed}"
        return f"exhibit-sim campaign {which}{db}"


def session_splits(scenario: Scenario) -> dict[str, list[datetime]]:
    """Where the agent ends a session besides idle time: a boot, an assignment arriving."""
    splits: dict[str, list[datetime]] = {}
    for fault in scenario.faults:
        for boot in boots(fault):
            splits.setdefault(getattr(fault, "exhibit", ""), []).append(boot.down)
    for _index, exhibit_id, at, _what in checkout_moments(scenario):
        windows = unreachable(scenario, exhibit_id)
        heard = at
        while covering := [w for w in windows if w.start <= heard < w.end]:
            heard = max(w.end for w in covering)
        splits.setdefault(exhibit_id, []).append(heard)
    return splits


def _judge(scenario: Scenario, ledger: Path, result: SeedResult) -> Any:
    def inspect(client: FleetClient, verdict: Verdict) -> None:
        touches = read_ledger(ledger)
        records: list[dict[str, Any]] = []
        has_unplaced = True
        for exhibit_id in scenario.exhibit_defs():
            found = client.unplaced(exhibit_id)
            if found is None:
                has_unplaced = False
                break
            records += found
        capacity, total = unplaced_capacity(records)
        findings = judge_counts(verdict, capacity, total)
        visits = {t.visit_id for t in touches if t.visit_id is not None}
        visits |= {key[0] for key in capacity if key[0] is not None}
        usage = {visit: client.visit_usage(visit) for visit in sorted(visits)}
        findings.problems += reported_on_candidates(usage, capacity, has_unplaced)
        skip = _unclear(touches, verdict, capacity)
        expected = expected_sessions(
            touches, scenario.agent.session_idle_s, session_splits(scenario)
        )
        findings.problems += check_sessions(expected, usage, skip)
        result.findings = findings
        result.interactions = verdict.interactions
        result.differences = [
            f"{d.place} {d.exhibit_id} {d.input}: ledger {d.expected}"
            + (f" (+{d.at_risk} at risk)" if d.at_risk else "")
            + f", API {d.reported}"
            for d in verdict.differences
        ]

    return inspect


def _unclear(touches: list[Any], verdict: Verdict, capacity: Counter[Key]) -> set[tuple[int, str]]:
    """Visits and exhibits whose sessions the ledger cannot predict exactly."""
    skip = {(t.visit_id, t.exhibit_id) for t in touches if t.at_risk and t.visit_id is not None}
    skip |= {(d.place, d.exhibit_id) for d in verdict.differences if isinstance(d.place, int)}
    skip |= {(visit, exhibit) for visit, exhibit, _name in capacity if visit is not None}
    wrong = {d.exhibit_id for d in verdict.differences}
    return skip | {
        (t.visit_id, t.exhibit_id) for t in touches if t.exhibit_id in wrong and t.visit_id
    }


def run_seed(
    seed: int, *, work_dir: Path, database: Backend = "sqlite", verify_wait_s: float = VERIFY_WAIT_S
) -> SeedResult:
    """Generate, run and judge one seed in ``work_dir`` (an earlier run there is replaced)."""
    _fresh(work_dir)
    path = work_dir / "scenario.yaml"
    path.write_text(yaml.safe_dump(generate(seed), allow_unicode=True, sort_keys=False))
    return run_file(path, seed, work_dir=work_dir, database=database, verify_wait_s=verify_wait_s)


def run_file(
    path: Path,
    seed: int | str,
    *,
    work_dir: Path,
    database: Backend = "sqlite",
    verify_wait_s: float = VERIFY_WAIT_S,
) -> SeedResult:
    """Run the scenario file ``path`` in ``work_dir / "run"`` and judge it like a seed."""
    from simulator.engine import Engine  # starts processes

    started = time.monotonic()
    scenario = load_scenario(path)
    result = SeedResult(seed, database, work_dir=work_dir)
    kinds = Counter(f.kind for f in scenario.faults)
    result.kinds = ", ".join(f"{kind} {n}" for kind, n in kinds.items())
    ledger = work_dir / "run" / "ledger.jsonl"
    engine = Engine(
        scenario,
        work_dir=work_dir / "run",
        database=database,
        verify_wait_s=verify_wait_s,
        inspect=_judge(scenario, ledger, result),
    )
    report = engine.run()
    result.faults = report.faults
    result.findings.problems += [f"fault check failed: {f}" for f in report.fault_failures]
    result.seconds = time.monotonic() - started
    return result


def _fresh(work_dir: Path) -> None:
    if work_dir.exists() and any(work_dir.iterdir()):
        if not (work_dir / "scenario.yaml").exists() and not (work_dir / "run").exists():
            raise SimError(f"{work_dir} is not empty and holds no campaign run; choose another")
        shutil.rmtree(work_dir)
    work_dir.mkdir(parents=True)


def results_table(results: list[SeedResult]) -> Table:
    """Seeds, faults, interactions, lost, duplicated, misattributed, unplaced, time."""
    table = Table(title="fault campaign", box=box.SIMPLE_HEAD)
    for column in ("seed", "db", "faults", "interactions", "lost", "duplicated", "misattributed"):
        table.add_column(column, justify="right", no_wrap=True)
    for column in ("unplaced", "s", "result"):
        table.add_column(column, justify="right", no_wrap=True)
    for r in results:
        f = r.findings
        table.add_row(
            str(r.seed),
            "pg" if r.database == "postgresql" else r.database,
            str(r.faults),
            str(r.interactions),
            str(f.lost),
            str(f.duplicated),
            str(f.misattributed),
            str(f.unplaced),
            f"{r.seconds:.0f}",
            "[green]ok[/green]" if r.ok else "[red]FAIL[/red]",
        )
    return table


def markdown_table(results: list[SeedResult]) -> str:
    """The soak table as Markdown, with the fault kinds of each seed and its replay command."""
    lines = [
        "| seed | db | faults | kinds | interactions | lost | duplicated | misattributed "
        "| unplaced | s | result |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        f = r.findings
        verdict = "ok" if r.ok else f"FAIL: `{r.replay}`"
        lines.append(
            f"| {r.seed} | {r.database} | {r.faults} | {r.kinds} | {r.interactions} | {f.lost} "
            f"| {f.duplicated} | {f.misattributed} | {f.unplaced} | {r.seconds:.0f} | {verdict} |"
        )
    return "\n".join(lines) + "\n"


def add_commands(commands: Any) -> None:
    """Add ``campaign`` to ``exhibit-sim``'s subparsers."""
    campaign = commands.add_parser(
        "campaign", help="randomized fault campaign: generated scenarios, judged from the ledger"
    )
    which = campaign.add_mutually_exclusive_group(required=True)
    which.add_argument("--seeds", type=int, help="run seeds FIRST .. FIRST+N-1")
    which.add_argument("--seed", type=int, action="append", help="run this seed (repeatable)")
    which.add_argument(
        "--scenario", type=Path, action="append", help="judge this scenario file like a seed"
    )
    campaign.add_argument("--first", type=int, default=1, help="the first seed of --seeds")
    campaign.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    campaign.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    campaign.add_argument("--table", type=Path, help="write the results as a Markdown table")
    campaign.add_argument("--show", action="store_true", help="print the seed's scenario only")


def main(args: argparse.Namespace, console: Console) -> int:
    """Run the ``campaign`` command; exit 1 if any seed failed."""
    seeds: list[int | Path] = [*(args.scenario or args.seed or [])]
    if args.seeds is not None:
        seeds = list(range(args.first, args.first + args.seeds))
    if args.show:
        for seed in seeds:
            raw = generate(seed) if isinstance(seed, int) else yaml.safe_load(seed.read_text())
            console.print(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False))
        return 0
    results = []
    for seed in seeds:
        console.print(f"seed {seed} ...", soft_wrap=True)
        if isinstance(seed, int):
            work_dir = args.work_dir / f"seed-{seed}"
            result = run_seed(seed, work_dir=work_dir, database=args.database)
        else:
            work_dir = args.work_dir / seed.stem
            _fresh(work_dir)
            result = run_file(seed, str(seed), work_dir=work_dir, database=args.database)
        results.append(result)
        f = result.findings
        console.print(
            f"seed {seed}: {result.faults} faults ({result.kinds}), {result.interactions} "
            f"interactions: lost {f.lost}, duplicated {f.duplicated}, misattributed "
            f"{f.misattributed}, unplaced {f.unplaced}; {result.seconds:.0f} s: "
            + ("ok" if result.ok else "FAIL"),
            soft_wrap=True,
        )
        for problem in f.problems:
            console.print(f"  {problem}", soft_wrap=True)
        if not result.ok:
            for line in result.differences:
                console.print(f"  {line}", soft_wrap=True)
            console.print(
                f"  replay: {result.replay}  (files in {result.work_dir})", soft_wrap=True
            )
    console.print(results_table(results))
    if args.table:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        args.table.write_text(markdown_table(results), encoding="utf-8")
    failed = [r for r in results if not r.ok]
    for r in failed:
        console.print(f"[red]FAIL seed {r.seed}[/red]: {r.replay}", soft_wrap=True)
    return 1 if failed else 0
