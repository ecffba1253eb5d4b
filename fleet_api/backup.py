"""``fleet-api backup`` and ``fleet-api restore``: the fleet database to a file and back.

- SQLite: SQLite's online backup API, in one step, so the copy is one consistent
  snapshot even while ingestion writes (WAL: the writer goes on, the copy reads the
  snapshot it began with). The copy is checked (``PRAGMA quick_check``), synced and only
  then renamed into place, so a backup file is either whole or absent.
- PostgreSQL: ``pg_dump --format=custom``; ``pg_restore`` into an emptied ``public``
  schema in one transaction.

A restore migrates the restored database to this version's schema; the caller then asks
every exhibit for what it lacks (:func:`fleet_api.resend.request_resend`).

A directory as the destination of a backup gets a file named by the time
(``fleet-20261208T030000Z.sqlite3`` or ``.pgdump``); ``keep`` prunes all but the newest
``keep`` such files there (the Ansible role's timer uses both).
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from fleet_api.db import make_engine
from fleet_api.errors import ConfigError, DatabaseError

NAME = re.compile(r"^fleet-\d{8}T\d{6}Z\.(sqlite3|pgdump)$")
SQLITE_TIMEOUT_S = 30.0


def backup(database_url: str, destination: Path, *, now: datetime | None = None) -> Path:
    """Write a consistent backup of the database to ``destination`` (a file, or a
    directory to name one in); the file written."""
    url = make_url(database_url)
    suffix = "sqlite3" if url.get_backend_name() == "sqlite" else "pgdump"
    if destination.is_dir():
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        destination = destination / f"fleet-{stamp}.{suffix}"
    partial = destination.with_name(destination.name + ".partial")
    try:
        if suffix == "sqlite3":
            _sqlite_backup(_sqlite_path(url), partial)
        else:
            _run(["pg_dump", "--format=custom", f"--file={partial}"], url)
        _fsync(partial)
        partial.replace(destination)
        _fsync(destination.parent)
    finally:
        partial.unlink(missing_ok=True)
    return destination


def prune(directory: Path, *, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups named by time in ``directory``; the deleted."""
    if keep < 1:
        raise ConfigError("--keep must be at least 1: keep the newest backup, at least")
    found = sorted(p for p in directory.iterdir() if NAME.match(p.name))
    gone = found[:-keep]
    for path in gone:
        path.unlink()
    return gone


def restore(database_url: str, source: Path) -> None:
    """Replace the database's contents with the backup in ``source`` (the service stopped)."""
    if not source.is_file():
        raise ConfigError(f"{source}: no such backup file; give the path of a fleet-api backup")
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        _sqlite_restore(source, _sqlite_path(url))
        return
    _run(["pg_restore", "--list", str(source)], url, dbname=False)  # a dump at all?
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    finally:
        engine.dispose()
    _run(
        [
            "pg_restore",
            "--single-transaction",
            "--exit-on-error",
            "--no-owner",
            "--no-acl",
            str(source),
        ],
        url,
        failed="the database is left empty; the backup is intact: run the restore again",
    )


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise ConfigError(
            "FLEET_DATABASE_URL names an in-memory SQLite database: nothing to back up or restore"
        )
    return Path(url.database)


def _sqlite_backup(path: Path, target: Path) -> None:
    if not path.is_file():
        raise DatabaseError(f"{path}: no such database file")
    source = sqlite3.connect(path, timeout=SQLITE_TIMEOUT_S)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # pages=-1: one step, one snapshot
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        _check(copy, target)
    except sqlite3.Error as exc:
        raise DatabaseError(f"backing up {path} failed: {exc}") from None
    finally:
        copy.close()
        source.close()


def _sqlite_restore(source: Path, path: Path) -> None:
    backup_db = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        _check(backup_db, source)
        tables = {row[0] for row in backup_db.execute("SELECT name FROM sqlite_master")}
        if "alembic_version" not in tables:
            raise ConfigError(f"{source} is not a fleet-api backup (no alembic_version table)")
        target = sqlite3.connect(path, timeout=SQLITE_TIMEOUT_S)
        try:
            backup_db.backup(target)  # under the target's write lock, all or nothing
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{source} is not a usable SQLite backup: {exc}") from None
    finally:
        backup_db.close()


def _check(connection: sqlite3.Connection, where: Path) -> None:
    result = connection.execute("PRAGMA quick_check").fetchone()
    if result is None or result[0] != "ok":
        raise DatabaseError(f"{where} failed SQLite's quick_check: {result}")


def _run(
    command: list[str],
    url: URL,
    *,
    dbname: bool = True,
    failed: str = "",
) -> None:
    """Run a PostgreSQL tool against ``url``; the password goes in the environment."""
    if shutil.which(command[0]) is None:
        raise ConfigError(
            f"{command[0]} is not installed: sudo apt-get install postgresql-client "
            "(the same major version as the server, or newer)"
        )
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    libpq = url.set(drivername="postgresql", password=None)
    if dbname:
        command = [*command, f"--dbname={libpq.render_as_string(hide_password=False)}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise DatabaseError(f"{command[0]} failed: {reason}" + (f"; {failed}" if failed else ""))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
