"""``fleet-api``: ``serve`` the API with uvicorn, ``migrate`` the database, or manage the
broker's accounts with ``broker ...`` (``broker/admin.py``).

Exit status: 0 done, 1 the database could not be used, 2 bad usage or configuration.
A user mistake prints one line naming the setting and the fix, never a traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from sqlalchemy.engine import make_url

from fleet_api import __version__
from fleet_api.db import current_revision, ensure_at_head, make_engine, upgrade
from fleet_api.errors import ConfigError, DatabaseError
from fleet_api.settings import Settings, load_settings

PROG = "fleet-api"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="The exhibit fleet API. Settings come from FLEET_* environment variables "
        "(FLEET_DATABASE_URL, FLEET_MQTT_URL, ...).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the HTTP API and MQTT ingestion")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default %(default)s)")
    serve.add_argument("--port", type=int, default=8000, help="port to bind (default %(default)s)")
    serve.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug"],
        help="default %(default)s",
    )
    commands.add_parser("migrate", help="migrate the database to this version's schema")
    commands.add_parser(
        "broker",
        help="exhibit and service accounts, ACL, dev CA, Mosquitto config "
        "(fleet-api broker --help)",
        add_help=False,
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fleet-api`` command line; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["broker"]:
        # Broker accounts need no database or API settings: hand over before loading them.
        from broker import admin

        return admin.main(arguments[1:])
    args = _parser().parse_args(arguments)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        if args.command == "migrate":
            return _migrate(settings)
        return _serve(settings, host=args.host, port=args.port, log_level=args.log_level)
    except DatabaseError as exc:
        print(f"{PROG}: {exc} (FLEET_DATABASE_URL={_safe_url(settings)})", file=sys.stderr)
        return 1


def _migrate(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        print(f"{_safe_url(settings)} is at revision {current_revision(engine)}")
    finally:
        engine.dispose()
    return 0


def _serve(settings: Settings, *, host: str, port: int, log_level: str) -> int:
    import uvicorn

    logging.basicConfig(
        level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # Fail here, with one line, rather than inside uvicorn with a traceback.
    engine = make_engine(settings.database_url)
    try:
        if settings.migrate_on_start:
            upgrade(engine)
        else:
            ensure_at_head(engine)
    finally:
        engine.dispose()
    uvicorn.run(
        "fleet_api.main:create_app",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        # Our own basicConfig above formats the fleet_api loggers; keep uvicorn's too.
        log_config=None,
    )
    return 0


def _safe_url(settings: Settings) -> str:
    return make_url(settings.database_url).render_as_string(hide_password=True)
