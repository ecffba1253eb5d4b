"""``exhibit-sim scenario run | check | list``: named scenarios against the real components.

``run`` starts Mosquitto and the fleet API (SQLite or PostgreSQL) itself, because its
faults restart them; it writes ``ledger.jsonl`` and ``faults.jsonl`` in the work
directory, shows a progress bar, prints the summary (and every difference) and exits 1
on any difference or failed fault check. ``check`` validates files; ``list`` names the
scenarios shipped in ``simulator/scenarios``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulator.errors import ScenarioError
from simulator.plan import build_plan
from simulator.reliability import differences_table, summary_table
from simulator.scenario_files import load_scenario, named_scenarios

WIDE = 120
"""Columns the summary table needs; narrower consoles get its one-line form only."""


def add_commands(commands: Any) -> None:
    """Add ``scenario`` and its subcommands to ``exhibit-sim``'s subparsers."""
    scenario = commands.add_parser("scenario", help="run or check scenario files (faults, visits)")
    actions = scenario.add_subparsers(dest="scenario_command", required=True)
    run = actions.add_parser("run", help="simulate a scenario against Mosquitto and the fleet API")
    run.add_argument("scenario", help="a name (see 'scenario list') or a YAML file")
    run.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    run.add_argument(
        "--work-dir", type=Path, help="where ledger, faults log and logs go (default: sim-runs/...)"
    )
    run.add_argument("--seed", type=int, help="replace the scenario's seed")
    run.add_argument("--verify-wait", type=float, default=60.0, help="seconds to wait for data")
    check = actions.add_parser("check", help="validate scenario files")
    check.add_argument("scenarios", nargs="+", help="names or YAML files")
    actions.add_parser("list", help="the scenarios shipped with the simulator")


def main(args: argparse.Namespace, console: Console) -> int:
    """Run the ``scenario`` subcommand in ``args``; the exit code."""
    if args.scenario_command == "list":
        for name in named_scenarios():
            console.print(f"{name:28} {load_scenario(name).description}", soft_wrap=True)
        return 0
    if args.scenario_command == "check":
        return _check(args.scenarios, console)
    return _run(args, console)


def _check(names: list[str], console: Console) -> int:
    failed = 0
    for name in names:
        try:
            scenario = load_scenario(name)
        except ScenarioError as exc:
            console.print(f"[red]{exc}[/red]", soft_wrap=True)
            failed += 1
            continue
        plan = build_plan(scenario)
        console.print(
            f"ok: {scenario.name}: {len(scenario.exhibit_defs())} exhibits, "
            f"{len(scenario.visits)} visits, {len(scenario.faults)} faults, "
            f"{len(plan.touches)} interactions planned",
            soft_wrap=True,
        )
    return 2 if failed else 0


def _run(args: argparse.Namespace, console: Console) -> int:
    from simulator.engine import Engine  # starts processes: only for `run`

    scenario = load_scenario(args.scenario)
    if args.seed is not None:
        scenario = scenario.model_copy(update={"seed": args.seed})
    work_dir = args.work_dir or Path("sim-runs") / f"{scenario.name}-{args.database}"
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[where]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task(scenario.name, total=None, where="starting")

        def advance(touches: int, where: str) -> None:
            bar.update(task, advance=touches, where=where)

        engine = Engine(
            scenario,
            work_dir=work_dir,
            database=args.database,
            advance=advance,
            verify_wait_s=args.verify_wait,
        )
        bar.update(task, total=len(engine.plan.touches))
        report = engine.run()
    if report.differences:
        console.print(differences_table(report.differences))
    for failure in report.fault_failures:
        console.print(f"[red]fault check failed: {failure}[/red]", soft_wrap=True)
    if console.width >= WIDE:
        console.print(summary_table([report], title=f"scenario {scenario.name}"))
    console.print(report.summary_line(), soft_wrap=True)
    console.print(
        f"ledger {engine.ledger_path}, faults log {engine.faults_path}, logs in {work_dir}",
        soft_wrap=True,
    )
    return 0 if report.ok else 1
