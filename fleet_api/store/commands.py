"""Commands sent to exhibits (identify, self-test), what became of them, and self-test results.

A command is recorded once the broker acknowledged it. Its exhibit reports what it did
(``CommandDone``: ran, expired, refused in a visit, refused for an unknown age); the first
report is kept (a redelivery changes nothing), and the retained command is then cleared
(:mod:`fleet_api.command_clearing`) unless a newer command has taken its place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Row, Select, and_, select

from broker.messages import Command, CommandDone, SelfTestResult
from fleet_api.models.commands import CommandPublic, SelfTestPublic
from fleet_api.store.dialect import insert
from fleet_api.tables import exhibit_commands, exhibits, self_test_results


@dataclass(frozen=True, slots=True)
class DoneCommand:
    """A command whose exhibit reported what it did: its retained message may go."""

    exhibit_id: str
    command_id: str


def record_command(connection: Connection, *, command: Command) -> None:
    """Remember a command that the broker has acknowledged."""
    connection.execute(
        exhibit_commands.insert().values(
            command_id=command.command_id,
            exhibit_id=command.exhibit_id,
            action=command.action,
            seconds=command.seconds,
            issued_at=command.issued_at,
            expires_at=command.expires_at,
            force=bool(command.force),
        )
    )


def lock_commands_of(connection: Connection, exhibit_id: str) -> None:
    """Hold the exhibit's row until the commit: sending and clearing its command take turns.

    PostgreSQL: ``SELECT .. FOR UPDATE``; SQLite: every transaction here is ``BEGIN
    IMMEDIATE`` (:mod:`fleet_api.db`), so the write lock is already held.
    """
    connection.execute(select(exhibits.c.id).where(exhibits.c.id == exhibit_id).with_for_update())


def store_outcomes(
    connection: Connection, reports: Sequence[tuple[CommandDone, datetime]]
) -> list[DoneCommand]:
    """Store each report's outcome once; the commands that have one only now."""
    done: list[DoneCommand] = []
    table = exhibit_commands.c
    for report, received_at in reports:
        changed = connection.execute(
            exhibit_commands.update()
            .where(
                and_(
                    table.command_id == report.command_id,
                    table.exhibit_id == report.exhibit_id,
                    table.outcome.is_(None),
                )
            )
            .values(outcome=report.outcome, outcome_at=report.at, reported_at=received_at)
        )
        if changed.rowcount:
            done.append(DoneCommand(report.exhibit_id, report.command_id))
    return done


def still_retained(connection: Connection, done: DoneCommand) -> bool:
    """Whether ``done`` is the exhibit's newest command and nobody has cleared it yet."""
    table = exhibit_commands.c
    newest = connection.execute(
        select(table.command_id, table.cleared_at)
        .where(table.exhibit_id == done.exhibit_id)
        .order_by(table.issued_at.desc(), table.command_id.desc())
        .limit(1)
    ).first()
    return newest is not None and newest.command_id == done.command_id and not newest.cleared_at


def mark_cleared(connection: Connection, done: DoneCommand, *, at: datetime) -> None:
    """The retained ``done`` command was deleted from the broker at ``at``."""
    connection.execute(
        exhibit_commands.update()
        .where(exhibit_commands.c.command_id == done.command_id)
        .values(cleared_at=at)
    )


def store_self_tests(
    connection: Connection, results: Sequence[tuple[SelfTestResult, datetime]]
) -> None:
    """Store ``(result, received_at)`` pairs; a retained result delivered again is ignored."""
    if not results:
        return
    statement = insert(connection, self_test_results).on_conflict_do_nothing(
        index_elements=["exhibit_id", "command_id"]
    )
    connection.execute(
        statement,
        [
            {
                "exhibit_id": result.exhibit_id,
                "command_id": result.command_id,
                "at": result.at,
                "received_at": received_at,
                "seen": dict(sorted(result.seen.items())),
                "passed": result.passed,
                "taken": None if result.taken is None else dict(sorted(result.taken.items())),
            }
            for result, received_at in results
        ],
    )


def recent_commands(
    connection: Connection, *, exhibit_id: str, limit: int = 10
) -> list[CommandPublic]:
    """The exhibit's latest commands, newest first, each with its self-test result if any."""
    commands = exhibit_commands.c
    rows = connection.execute(
        _with_results()
        .where(commands.exhibit_id == exhibit_id)
        .order_by(commands.issued_at.desc(), commands.command_id)
        .limit(limit)
    )
    return [_command(row) for row in rows]


def latest_self_test_commands(
    connection: Connection, exhibit_ids: Sequence[str]
) -> dict[str, CommandPublic]:
    """The newest self-test command sent to each of ``exhibit_ids``, with its result if any."""
    if not exhibit_ids:
        return {}
    commands = exhibit_commands.c
    rows = connection.execute(
        _with_results()
        .where(commands.exhibit_id.in_(sorted(set(exhibit_ids))), commands.action == "self_test")
        .order_by(commands.exhibit_id, commands.issued_at, commands.command_id)
    )
    return {row.exhibit_id: _command(row) for row in rows}  # the newest of each wins


def _with_results() -> Select[tuple[object, ...]]:
    commands = exhibit_commands.c
    results = self_test_results.c
    return select(
        commands.command_id,
        commands.exhibit_id,
        commands.action,
        commands.seconds,
        commands.issued_at,
        commands.expires_at,
        commands.force,
        commands.outcome,
        commands.outcome_at,
        commands.reported_at,
        commands.cleared_at,
        results.at,
        results.received_at,
        results.seen,
        results.passed,
        results.taken,
    ).outerjoin(
        self_test_results,
        (results.exhibit_id == commands.exhibit_id) & (results.command_id == commands.command_id),
    )


def _command(row: Row[tuple[object, ...]]) -> CommandPublic:
    return CommandPublic(
        command_id=row.command_id,
        exhibit_id=row.exhibit_id,
        action=row.action,
        seconds=row.seconds,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        force=bool(row.force),
        outcome=row.outcome,
        outcome_at=row.outcome_at,
        reported_at=row.reported_at,
        cleared_at=row.cleared_at,
        result=None
        if row.passed is None
        else SelfTestPublic(
            command_id=row.command_id,
            at=row.at,
            received_at=row.received_at,
            seen=row.seen,
            passed=row.passed,
            taken=row.taken,
        ),
    )


def latest_self_tests(
    connection: Connection, exhibit_ids: Sequence[str]
) -> dict[str, SelfTestPublic]:
    """The most recently received self-test result of each exhibit that has one."""
    if not exhibit_ids:
        return {}
    results = self_test_results.c
    latest: dict[str, SelfTestPublic] = {}
    for row in connection.execute(
        select(self_test_results)
        .where(results.exhibit_id.in_(sorted(set(exhibit_ids))))
        .order_by(results.exhibit_id, results.received_at)
    ):
        latest[row.exhibit_id] = SelfTestPublic(
            command_id=row.command_id,
            at=row.at,
            received_at=row.received_at,
            seen=row.seen,
            passed=row.passed,
            taken=row.taken,
        )
    return latest
