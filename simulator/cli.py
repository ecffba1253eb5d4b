"""``exhibit-sim``: simulated exhibits and scenarios, verify the fleet's numbers, the demo."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from simulator import campaign_run, scenario_cli
from simulator.errors import SimError
from simulator.fleet_client import FleetClient
from simulator.reliability import differences_table
from simulator.runner import RunConfig, run
from simulator.verify import check


def _add_token(command: argparse.ArgumentParser, needs: str) -> None:
    command.add_argument(
        "--token",
        default=os.environ.get("FLEET_TOKEN"),
        help=f"fleet API token ({needs}); default: $FLEET_TOKEN",
    )


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
    _add_token(run_cmd, "registers exhibits and schedules the visit: admin, say")

    verify_cmd = commands.add_parser("verify", help="compare the ledger with the fleet API")
    verify_cmd.add_argument("--api", required=True)
    verify_cmd.add_argument("--ledger", type=Path, required=True)
    verify_cmd.add_argument("--wait", type=float, default=0.0, help="seconds to wait for data")
    _add_token(verify_cmd, "any role reads")

    demo_cmd = commands.add_parser("demo", help="broker + fleet API + simulated exhibits")
    demo_cmd.add_argument("--exhibits", type=int, default=3)
    demo_cmd.add_argument("--data-dir", type=Path, default=Path("demo-data"))
    _add_token(demo_cmd, "the demo API's admin token; a random one if unset")
    scenario_cli.add_commands(commands)
    campaign_run.add_commands(commands)
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
        token=args.token,
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
    client = FleetClient(args.api, token=args.token)
    try:
        verdict = check(args.ledger, client, wait_s=args.wait)
    finally:
        client.close()
    if not verdict.exact:
        console.print(differences_table(verdict.differences))
        console.print(
            f"[red]FAIL: {len(verdict.differences)} difference(s): lost {verdict.lost}, "
            f"duplicated {verdict.duplicated}, misattributed {verdict.misattributed}[/red]"
        )
        return 1
    console.print(
        f"OK: {verdict.interactions} interactions match the fleet API exactly in every visit, "
        "exhibit and input: none lost, duplicated or misattributed"
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
        if args.command == "scenario":
            return scenario_cli.main(args, console)
        if args.command == "campaign":
            return campaign_run.main(args, console)
        from simulator.demo import demo

        return demo(
            data_dir=args.data_dir, exhibits=args.exhibits, console=console, token=args.token
        )
    except SimError as exc:
        console.print(f"[red]exhibit-sim {args.command}: {exc}[/red]")
        return 2


if __name__ == "__main__":
    sys.exit(main())
