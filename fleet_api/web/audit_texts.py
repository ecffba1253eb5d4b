"""The audit trail said in the page's language: actions, fields and values.

Entries store stable action codes and field names (``visit.cancel``, ``pupils``); a page
shows them as words. A code or field this module does not know is shown as it is, so
nothing recorded is ever hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fleet_api.models.audit import AuditEntry
from fleet_api.web.i18n import NOTHING
from fleet_api.web.page import Page


def action(page: Page, code: str) -> str:
    """What was done, e.g. ``visit.cancel`` -> "Visit cancelled"."""
    names = {
        "visit.create": page.gettext("Visit planned"),
        "visit.update": page.gettext("Visit changed"),
        "visit.cancel": page.gettext("Visit cancelled or marked not held"),
        "visit.reinstate": page.gettext("Cancellation undone"),
        "visit.held": page.gettext("Visit marked held"),
        "visit.checkout": page.gettext("Exhibits checked out"),
        "visit.checkin": page.gettext("Exhibits checked in"),
        "school.create": page.gettext("School added"),
        "school.update": page.gettext("School changed"),
        "school.archive": page.gettext("School archived"),
        "school.restore": page.gettext("School restored"),
        "exhibit.create": page.gettext("Exhibit registered"),
        "exhibit.update": page.gettext("Exhibit changed"),
        "exhibit.retire": page.gettext("Exhibit retired"),
        "exhibit.restore": page.gettext("Exhibit back in service"),
        "exhibit.command": page.gettext("Command sent"),
        "programme.create": page.gettext("Programme added"),
        "programme.update": page.gettext("Programme changed"),
        "token.create": page.gettext("Token created"),
        "token.revoke": page.gettext("Token revoked"),
    }
    return names.get(code, code)


def field(page: Page, name: str) -> str:
    """A recorded field's label."""
    labels = {
        "school_id": page.gettext("School"),
        "starts_at": page.gettext("Starts"),
        "ends_at": page.gettext("Ends"),
        "exhibit_ids": page.gettext("Exhibits"),
        "programme_ids": page.gettext("Programmes"),
        "pupils": page.gettext("Pupils taking part"),
        "teachers": page.gettext("Teachers present"),
        "grades": page.gettext("Grades"),
        "staff": page.gettext("Staff member"),
        "notes": page.gettext("Notes"),
        "status": page.gettext("Status"),
        "status_reason": page.gettext("Reason"),
        "checked_out_at": page.gettext("Checked out"),
        "checked_in_at": page.gettext("Checked in"),
        "exhibits_told": page.gettext("Exhibits told"),
        "name": page.gettext("Name"),
        "kind": page.gettext("Kind"),
        "inputs": page.gettext("Inputs"),
        "retired_at": page.gettext("Retired"),
        "archived_at": page.gettext("Archived"),
        "action": page.gettext("Command"),
        "seconds": page.gettext("Seconds"),
        "command_id": page.gettext("Command id"),
    }
    return labels.get(name, name)


def status(page: Page, code: str) -> str:
    """A visit status: planned, held, cancelled."""
    names = {
        "planned": page.gettext("planned"),
        "held": page.gettext("held"),
        "cancelled": page.gettext("cancelled"),
    }
    return names.get(code, code)


def value(page: Page, name: str, raw: Any) -> str:
    """A recorded value, formatted for the reader (times local, lists joined)."""
    if raw is None or raw == []:
        return NOTHING
    if name == "status":
        return status(page, str(raw))
    if isinstance(raw, list):
        return ", ".join(str(item) for item in raw)
    if isinstance(raw, bool):
        return page.gettext("yes") if raw else page.gettext("no")
    if isinstance(raw, str) and (name.endswith("_at")):
        try:
            return page.fmt.when(datetime.fromisoformat(raw))
        except ValueError:
            return raw
    if isinstance(raw, int | float):
        return page.fmt.number(raw, 2)
    return str(raw)


@dataclass(frozen=True, slots=True)
class Change:
    """One field of an entry: its label, and the value before and after."""

    label: str
    before: str
    after: str


@dataclass(frozen=True, slots=True)
class Line:
    """One audit entry as a page shows it."""

    entry: AuditEntry
    action: str
    who: str
    changes: list[Change]


def lines(page: Page, entries: list[AuditEntry]) -> list[Line]:
    """Entries ready for the audit table of a page."""
    via = {
        "api": page.gettext("through the API"),
        "page": page.gettext("on the pages"),
        "cli": page.gettext("on the server"),
        "system": page.gettext("automatically"),
    }
    shown = []
    for entry in entries:
        before, after = entry.before or {}, entry.after or {}
        names = list(dict.fromkeys([*after, *before]))
        shown.append(
            Line(
                entry=entry,
                action=action(page, entry.action),
                who=f"{entry.actor_name} ({via.get(entry.via, entry.via)})",
                changes=[
                    Change(
                        field(page, name),
                        value(page, name, before.get(name)) if entry.before is not None else "",
                        value(page, name, after.get(name)),
                    )
                    for name in names
                ],
            )
        )
    return shown
