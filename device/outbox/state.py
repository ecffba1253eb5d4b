"""The agent's small persistent state, kept in the outbox so it survives reboots with it.

- the current visit assignment (tagged onto every new record until cleared);
- the command ids already run (a retained command is redelivered on every reconnect and
  must still run once only), and the reports of what became of them, until the broker
  acknowledged each;
- the reports of what became of the fleet's configurations (``device.ops.remote_config``),
  until the broker acknowledged each, and the last version answered for good;
- the self-test result waiting for its PUBACK, and the last one (for ``status``);
- when the broker last acknowledged records (for ``status``).

Written by the worker only, inside the outbox's transactions.
"""

from __future__ import annotations

import sqlite3
from contextlib import AbstractContextManager
from datetime import datetime

from device.outbox.store import Outbox
from device.wire.codec import Assignment, Command, SelfTestResult
from device.wire.custody import Resend

KEEP_COMMANDS = 200
"""Command ids remembered; older ones cannot come back (retained is the latest only)."""


class AgentState:
    """Typed access to the persistent state in ``outbox``; values are cached in memory."""

    def __init__(self, outbox: Outbox) -> None:
        self._outbox = outbox
        self.visit_id: int | None = outbox.meta("visit_id")
        issued = outbox.meta("assignment_issued_at")
        self.assignment_issued_at = None if issued is None else datetime.fromisoformat(issued)

    # -- visit assignment ----------------------------------------------------------------

    def assign(self, assignment: Assignment) -> bool:
        """Take ``assignment`` unless an assignment issued later is already held."""
        issued = self.assignment_issued_at
        if issued is not None and assignment.issued_at < issued:
            return False
        with self._outbox.transaction():
            self._outbox.set_meta("visit_id", assignment.visit_id)
            self._outbox.set_meta("assignment_issued_at", assignment.issued_at.isoformat())
        changed = self.visit_id != assignment.visit_id
        self.visit_id = assignment.visit_id
        self.assignment_issued_at = assignment.issued_at
        return changed

    # -- commands ------------------------------------------------------------------------

    def ran(self, command_id: str) -> bool:
        """Whether ``command_id`` was already run (or deliberately skipped)."""
        row = self._outbox.db.execute(
            "SELECT 1 FROM commands WHERE command_id = ?", (command_id,)
        ).fetchone()
        return row is not None

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        """One durable transaction of the outbox (to note a command with its effect)."""
        return self._outbox.transaction()

    def note_command(
        self,
        command: Command | Resend,
        *,
        outcome: str,
        at: datetime,
        report: bytes | None = None,
    ) -> None:
        """Remember that ``command`` was handled, before acting on it (at most once).

        ``report`` (a ``CommandDone``) waits in the same transaction to be published.
        """
        action = command.action if isinstance(command, Command) else "resend"
        with self._outbox.transaction() as db:
            if report is not None:
                pending = self.pending_reports()
                self._outbox.set_meta("command_reports", [p.decode() for p in [*pending, report]])
            db.execute(
                "INSERT OR REPLACE INTO commands (command_id, action, outcome, at) "
                "VALUES (?, ?, ?, ?)",
                (command.command_id, action, outcome, at.isoformat()),
            )
            db.execute(
                "DELETE FROM commands WHERE command_id NOT IN "
                "(SELECT command_id FROM commands ORDER BY at DESC LIMIT ?)",
                (KEEP_COMMANDS,),
            )

    def pending_reports(self) -> list[bytes]:
        """``CommandDone`` payloads not yet acknowledged by the broker, oldest first."""
        return [str(p).encode() for p in self._outbox.meta("command_reports", [])]

    def report_delivered(self, payload: bytes) -> None:
        """The broker acknowledged ``payload``: stop sending it."""
        pending = [p.decode() for p in self.pending_reports() if p != payload]
        self._outbox.set_meta("command_reports", pending or None)

    # -- configurations pushed by the fleet -----------------------------------------------

    def config_answered(self) -> int | None:
        """The last configuration version reported ``applied`` or ``refused``."""
        version = self._outbox.meta("config_answered")
        return None if version is None else int(version)

    def note_config_report(self, report: bytes, *, answered: int | None = None) -> None:
        """Keep ``report`` (a ``ConfigReport``) until the broker has it, and note a final
        answer for version ``answered``, in one transaction."""
        with self._outbox.transaction():
            pending = [p.decode() for p in [*self.pending_config_reports(), report]]
            self._outbox.set_meta("config_reports", pending)
            if answered is not None:
                self._outbox.set_meta("config_answered", answered)

    def pending_config_reports(self) -> list[bytes]:
        """``ConfigReport`` payloads not yet acknowledged by the broker, oldest first."""
        return [str(p).encode() for p in self._outbox.meta("config_reports", [])]

    def config_report_delivered(self, payload: bytes) -> None:
        """The broker acknowledged ``payload``: stop sending it."""
        pending = [p.decode() for p in self.pending_config_reports() if p != payload]
        self._outbox.set_meta("config_reports", pending or None)

    # -- self-test results ---------------------------------------------------------------

    def keep_self_test(self, result: SelfTestResult) -> None:
        """Store ``result`` as the last one and as waiting to be published."""
        payload = result.to_payload().decode()
        with self._outbox.transaction():
            self._outbox.set_meta("selftest_last", payload)
            self._outbox.set_meta("selftest_pending", payload)

    def pending_self_test(self) -> bytes | None:
        """The self-test result not yet acknowledged by the broker, if any."""
        payload = self._outbox.meta("selftest_pending")
        return None if payload is None else str(payload).encode()

    def self_test_delivered(self, payload: bytes) -> None:
        """The broker acknowledged ``payload``: stop resending it (unless a newer one waits)."""
        if self.pending_self_test() == payload:
            self._outbox.set_meta("selftest_pending", None)

    def last_self_test(self) -> SelfTestResult | None:
        """The last self-test result, delivered or not."""
        payload = self._outbox.meta("selftest_last")
        return None if payload is None else SelfTestResult.from_json(str(payload))
