"""``fleet-api``: ``serve`` the API with uvicorn, ``migrate`` the database, manage API
tokens with ``token create|list|revoke``, places with ``places import|list|unmapped``
(``places_cli.py``), ``backup``, ``restore`` and ``resend`` (``backup_cli.py``), or the
broker's accounts with ``broker ...`` (``broker/admin.py``).

Exit status: 0 done, 1 the database could not be used (or the token to revoke does not
exist), 2 bad usage or configuration. A user mistake prints one line naming the setting
and the fix, never a traceback. ``token create`` prints the new token, and nothing else,
on stdout (once: only its hash is stored); everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import socket
import sys
from collections.abc import Sequence

from pydantic import ValidationError
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from fleet_api import __version__, backup_cli, places_cli, reattribute_cli
from fleet_api.auth import Role
from fleet_api.db import current_revision, ensure_at_head, make_engine, upgrade
from fleet_api.errors import ConfigError, DatabaseError, UnknownToken
from fleet_api.models.tokens import TokenCreate
from fleet_api.settings import Settings, load_settings
from fleet_api.store import tokens
from fleet_api.store.audit import Actor

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
        "reattribute",
        help="place every stored record again under this version's rules (once, after an upgrade)",
    )
    _token_parser(commands.add_parser("token", help="API tokens: create, list, revoke"))
    places_cli.add_parser(commands)
    backup_cli.add_parsers(commands)
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
        if args.command == "token":
            return _token(settings, args)
        if args.command == "places":
            return _places(settings, args)
        if args.command == "reattribute":
            return _reattribute(settings)
        if args.command in ("backup", "restore", "resend"):
            return _custody(settings, args)
        return _serve(settings, host=args.host, port=args.port, log_level=args.log_level)
    except ConfigError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    except DatabaseError as exc:
        print(f"{PROG}: {exc} (FLEET_DATABASE_URL={_safe_url(settings)})", file=sys.stderr)
        return 1


def _migrate(settings: Settings) -> int:
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
        print(f"{_safe_url(settings)} is at revision {current_revision(engine)}")
        with engine.begin() as connection:
            # What migration 0008 could not map stays flagged until staff choose a place.
            places_cli.run(connection, argparse.Namespace(action="unmapped"), _cli_actor())
    finally:
        engine.dispose()
    return 0


def _places(settings: Settings, args: argparse.Namespace) -> int:
    engine = _open(settings)
    try:
        with engine.begin() as connection:
            return places_cli.run(connection, args, _cli_actor())
    finally:
        engine.dispose()


def _reattribute(settings: Settings) -> int:
    engine = _open(settings)
    try:
        with engine.begin() as connection:
            return reattribute_cli.run(connection, _cli_actor())
    finally:
        engine.dispose()


def _custody(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "backup":
        return backup_cli.run_backup(settings.database_url, args)
    if args.command == "restore":
        engine = make_engine(settings.database_url)
        try:
            return backup_cli.run_restore(settings, engine, args, _cli_actor())
        finally:
            engine.dispose()
    engine = _open(settings)
    try:
        return backup_cli.run_resend(engine, args, _cli_actor())
    finally:
        engine.dispose()


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
        "fleet_api.main:create_server_app",
        factory=True,
        host=host,
        port=port,
        log_level=log_level,
        # Our own basicConfig above formats the fleet_api loggers; keep uvicorn's too.
        log_config=None,
    )
    return 0


def _token_parser(token: argparse.ArgumentParser) -> None:
    actions = token.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a token; prints it on stdout, once")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--name", help="who or what uses it, e.g. 'Anna' (default: the role)")
    actions.add_parser("list", help="list tokens: id, role, created, revoked, name")
    revoke = actions.add_parser("revoke", help="revoke a token: it gets 401 from now on")
    revoke.add_argument("id", type=int, help="the token's id, from `fleet-api token list`")


def _token(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "create":
        try:
            wanted = TokenCreate(name=args.name or f"{args.role} token", role=args.role)
        except ValidationError as exc:
            print(f"{PROG} token create: --name: {exc.errors()[0]['msg']}", file=sys.stderr)
            return 2
    engine = _open(settings)
    try:
        with Session(engine) as session:
            if args.action == "create":
                return _token_create(session, wanted)
            if args.action == "list":
                return _token_list(session)
            return _token_revoke(session, args.id)
    finally:
        engine.dispose()


def _token_create(session: Session, wanted: TokenCreate) -> int:
    created = tokens.create_token(session, name=wanted.name, role=wanted.role, actor=_cli_actor())
    print(created.token)
    print(
        f"created token {created.id} {created.name!r} ({created.role}); it is shown only this once",
        file=sys.stderr,
    )
    return 0


def _token_list(session: Session) -> int:
    total = tokens.count_tokens(session)
    for token in tokens.list_tokens(session, limit=max(total, 1)):
        revoked = token.revoked_at.isoformat() if token.revoked_at else "-"
        created = token.created_at.isoformat()
        print(f"{token.id}\t{token.role}\t{created}\t{revoked}\t{token.name}")
    return 0


def _token_revoke(session: Session, token_id: int) -> int:
    try:
        token = tokens.revoke_token(session, token_id=token_id, actor=_cli_actor())
    except UnknownToken as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    since = token.revoked_at.isoformat() if token.revoked_at else "now"
    print(f"token {token.id} {token.name!r} ({token.role}) is revoked since {since}")
    return 0


def _cli_actor() -> Actor:
    """Whoever runs ``fleet-api`` on the server: their login name."""
    return Actor(name=f"{PROG} on {socket.gethostname()} as {getpass.getuser()}", via="cli")


def _open(settings: Settings) -> Engine:
    """An engine on a database at the code's schema (migrated first if that is allowed)."""
    engine = make_engine(settings.database_url)
    try:
        if settings.migrate_on_start:
            upgrade(engine)
        else:
            ensure_at_head(engine)
    except DatabaseError:
        engine.dispose()
        raise
    return engine


def _safe_url(settings: Settings) -> str:
    return make_url(settings.database_url).render_as_string(hide_password=True)
