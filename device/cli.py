"""``exhibit-agent``: run the agent, or report what its outbox holds.

    exhibit-agent run       settings from EXHIBIT_* / EXHIBIT_CONFIG; pins from gpiozero
    exhibit-agent status    pending records, oldest pending, open buckets

Exit codes: 0 fine, 1 the agent failed at run time, 2 bad configuration or usage. User
mistakes print one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence

from device import __version__
from device.config import AgentSettings, load_settings
from device.errors import AgentError, ConfigError
from device.outbox import Outbox

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
PROG = "exhibit-agent"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="logging threshold (default INFO)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="count interactions and report them until SIGTERM")
    status = commands.add_parser("status", help="show what the outbox holds")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    return parser


def _run(settings: AgentSettings) -> int:
    from device.agent import Agent  # gpiozero and paho only for the command that needs them

    Agent(settings).run_forever()
    return EXIT_OK


def _status(settings: AgentSettings, *, as_json: bool) -> int:
    path = settings.outbox_path
    report: dict[str, object] = {"exhibit_id": settings.exhibit_id, "outbox": str(path)}
    if not path.exists():
        report.update(pending=0, oldest_seq=None, oldest_start=None, open_buckets=0, last_seq=0)
    else:
        outbox = Outbox(path, bucket_seconds=settings.bucket_seconds, readonly=True)
        try:
            oldest = outbox.oldest()
            report.update(
                pending=outbox.depth(),
                oldest_seq=oldest.seq if oldest else None,
                oldest_start=oldest.start.isoformat() if oldest else None,
                open_buckets=outbox.open_buckets(),
                last_seq=outbox.last_seq(),
            )
        finally:
            outbox.close()
    if as_json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key}: {'-' if value is None else value}")
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``exhibit-agent`` console script; returns the exit code."""
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings()
        if args.command == "status":
            return _status(settings, as_json=args.json)
        return _run(settings)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except AgentError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
