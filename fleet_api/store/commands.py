"""Commands sent to exhibits (identify, self-test) and the self-test results they send back."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Connection, Row, Select, select

from broker.messages import Command, SelfTestResult
from fleet_api.models.commands import CommandPublic, SelfTestPublic
from fleet_api.store.dialect import insert
from fleet_api.tables import exhibit_commands, self_test_results


def record_command(connection: Connection, *, command: Command) -> None:
    """Remember a command that the broker has acknowledged."""
    connection.execute(
        exhibit_commands.insert().values(
            command_id=command.command_id,
            exhibit_id=command.exhibit_id,
            action=command.action,
            seconds=command.seconds,
            issued_at=command.issued_at,
        )
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
        results.at,
        results.received_at,
        results.seen,
        results.passed,
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
        result=None
        if row.passed is None
        else SelfTestPublic(
            command_id=row.command_id,
            at=row.at,
            received_at=row.received_at,
            seen=row.seen,
            passed=row.passed,
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
        )
    return latest
