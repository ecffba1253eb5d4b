"""``exhibit-sim``: run simulated exhibits, verify the fleet's numbers, or run the demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from simulator.errors import SimError
from simulator.fleet_client import FleetClient
from simulator.runner import RunConfig, run
from simulator.verify import verify


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="exhibit-sim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run_cmd = commands.add_parser("run", help="start N real agents with scripted visitors")
    run_cmd.add_argument("--api", required=True, help="fleet API base URL")
    run_cmd.add_argument("--broker", required=True, help="broker URL, e.g. mqtt://127.0.0.1:1883")
    run_cmd.add_argument("--exhibits", type=int, default=3)
    run_cmd.add_argument("--seed", type=int, default=1)
    run_cmd.add_argument("--duration", type=float, default=20.0, help="seconds of visitors")
    run_cmd.add_argument("--mean-gap", type=float, default=1.0, help="mean seconds between touches")
    run_cmd.add_argument("--bucket-seconds", type=float, default=5.0)
    run_cmd.add_argument("--ledger", type=Path, required=True)
    run_cmd.add_argument("--data-dir", type=Path, required=True, help="agents' outboxes")
    run_cmd.add_argument(
        "--visit-id", type=int, help="count for this visit (default: schedule one)"
    )

    verify_cmd = commands.add_parser("verify", help="compare the ledger with the fleet API")
    verify_cmd.add_argument("--api", required=True)
    verify_cmd.add_argument("--ledger", type=Path, required=True)
    verify_cmd.add_argument("--wait", type=float, default=0.0, help="seconds to wait for data")

    demo_cmd = commands.add_parser("demo", help="broker + fleet API + simulated exhibits")
    demo_cmd.add_argument("--exhibits", type=int, default=3)
    demo_cmd.add_argument("--data-dir", type=Path, default=Path("demo-data"))
    return parser


def _run(args: argparse.Namespace, console: Console) -> int:
    config = RunConfig(
        api_url=args.api,
        broker_url=args.broker,
        exhibits=args.exhibits,
        seed=args.seed,
        duration_s=args.duration,
        ledger_path=args.ledger,
        data_dir=args.data_dir,
        bucket_seconds=args.bucket_seconds,
        mean_gap_s=args.mean_gap,
        visit_id=args.visit_id,
    )
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("visitors", total=None)
        result = run(
            config,
            on_plan=lambda total: bar.update(task, total=total),
            progress=lambda n: bar.advance(task, n),
        )
    console.print(
        f"visit {result.visit_id}: {result.interactions} interactions on "
        f"{len(result.exhibit_ids)} exhibits, ledger {args.ledger}"
    )
    if not result.flushed:
        console.print("[red]some agents still had unacknowledged data when the run ended[/red]")
        return 1
    return 0


def _verify(args: argparse.Namespace, console: Console) -> int:
    client = FleetClient(args.api)
    try:
        expected, differences = verify(args.ledger, client, wait_s=args.wait)
    finally:
        client.close()
    if differences:
        table = Table(title="differences: ledger vs fleet API")
        for column in ("visit", "exhibit", "input", "ledger", "API", "diff"):
            table.add_column(column)
        for d in differences:
            table.add_row(
                str(d.visit_id),
                d.exhibit_id,
                d.input,
                str(d.expected),
                str(d.reported),
                f"{d.reported - d.expected:+d}",
            )
        console.print(table)
        console.print(f"[red]FAIL: {len(differences)} difference(s)[/red]")
        return 1
    console.print(
        f"OK: {sum(expected.values())} interactions in {len(expected)} (visit, exhibit, input) "
        "groups match the fleet API exactly"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``exhibit-sim`` console script."""
    args = _parser().parse_args(argv)
    console = Console()
    try:
        if args.command == "run":
            return _run(args, console)
        if args.command == "verify":
            return _verify(args, console)
        from simulator.demo import demo

        return demo(data_dir=args.data_dir, exhibits=args.exhibits, console=console)
    except SimError as exc:
        console.print(f"[red]exhibit-sim {args.command}: {exc}[/red]")
        return 2


if __name__ == "__main__":
    sys.exit(main())
