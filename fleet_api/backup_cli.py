"""``fleet-api backup``, ``fleet-api restore`` and ``fleet-api resend``.

``backup [PATH] [--keep N]`` writes a consistent backup (:mod:`fleet_api.backup`) and
prints its path; ``restore FILE`` replaces the database with a backup (stop the service
first), migrates it, and asks every registered exhibit to resend what the restored
database lacks, from its seq ranges: the requests are stored and the running service
sends them as soon as it is connected to the broker. With ``FLEET_MQTT_URL`` set, it then
drops the status subscription from the service's session on the broker
(:func:`fleet_api.mqtt_source.renew_status_subscription`), so the service's next one is
new and gets every exhibit's retained status: the version of the fleet's configuration
each runs now, not as of the backup (:func:`fleet_api.store.configs.next_version`
numbers the next push above it). ``resend EXHIBIT [--from-seq N]``
stores one such request by hand. Each request and the restore itself are audited.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import Engine

from fleet_api.backup import backup, prune, restore
from fleet_api.db import current_revision, upgrade
from fleet_api.errors import ConfigError
from fleet_api.mqtt_source import renew_status_subscription
from fleet_api.resend import request_resend
from fleet_api.settings import Settings
from fleet_api.store.audit import Actor, record_change
from fleet_api.store.resend import registered_exhibits

DEFAULT_DIR = Path()


def add_parsers(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``backup``, ``restore`` and ``resend`` commands."""
    made = commands.add_parser("backup", help="back up the fleet database (safe while running)")
    made.add_argument(
        "path",
        nargs="?",
        type=Path,
        default=DEFAULT_DIR,
        help="a file, or a directory to name one in by the time (default: here)",
    )
    made.add_argument(
        "--keep", type=int, help="in a directory: delete all but the newest KEEP backups"
    )
    back = commands.add_parser(
        "restore",
        help="replace the database with a backup (stop the service first), then ask "
        "every exhibit to resend what it lacks",
    )
    back.add_argument("file", type=Path)
    again = commands.add_parser("resend", help="ask an exhibit to send its records again")
    again.add_argument("exhibit_id")
    again.add_argument("--from-seq", type=int, help="default: the first seq the fleet lacks of it")


def run_backup(database_url: str, args: argparse.Namespace) -> int:
    """``fleet-api backup``."""
    if args.keep is not None and not args.path.is_dir():
        raise ConfigError("--keep needs a directory as PATH (backups named by time)")
    written = backup(database_url, args.path)
    print(written)
    if args.keep is not None:
        for path in prune(args.path, keep=args.keep):
            print(f"deleted {path}", file=sys.stderr)
    return 0


def run_restore(settings: Settings, engine: Engine, args: argparse.Namespace, actor: Actor) -> int:
    """``fleet-api restore``: restore, migrate, store a resend request per exhibit, and have
    the broker send every exhibit's status again."""
    restore(settings.database_url, args.file)
    upgrade(engine)
    with engine.begin() as connection:
        asked = {
            exhibit_id: request_resend(
                connection,
                None,
                exhibit_id=exhibit_id,
                from_seq=None,
                reason="restore",
                actor=actor,
            ).from_seq
            for exhibit_id in registered_exhibits(connection)
        }
        record_change(
            connection,
            actor=actor,
            action="fleet.restore",
            entity="fleet",
            entity_id=str(args.file.name),
            after={"backup": str(args.file), "resend_from": asked},
        )
    print(f"restored {args.file} (revision {current_revision(engine)})", file=sys.stderr)
    for exhibit_id, from_seq in asked.items():
        print(f"{exhibit_id}\tresend from seq {from_seq}")
    print(
        f"{len(asked)} exhibit(s) will be asked to resend once fleet-api serve is connected "
        "to the broker",
        file=sys.stderr,
    )
    if settings.mqtt_url is not None:
        # The restored statuses are as old as the backup (the configuration version each
        # exhibit runs, above all): the broker's retained ones are today's.
        why_not = renew_status_subscription(settings)
        print(
            "the broker sends every exhibit's status again once fleet-api serve is connected"
            if why_not is None
            else f"every exhibit's status is as old as the backup until its next birth: {why_not}",
            file=sys.stderr,
        )
    return 0


def run_resend(engine: Engine, args: argparse.Namespace, actor: Actor) -> int:
    """``fleet-api resend``: store a request for the running service to send."""
    with engine.begin() as connection:
        if args.from_seq is not None and args.from_seq < 1:
            raise ConfigError("--from-seq must be 1 or more (seqs start at 1)")
        if args.exhibit_id not in registered_exhibits(connection):
            raise ConfigError(f"exhibit {args.exhibit_id!r} is not registered")
        made = request_resend(
            connection,
            None,
            exhibit_id=args.exhibit_id,
            from_seq=args.from_seq,
            reason="technician",
            actor=actor,
        )
    print(f"{made.exhibit_id}\tresend from seq {made.from_seq}\t{made.command_id}")
    return 0
