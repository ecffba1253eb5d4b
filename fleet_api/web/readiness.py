"""Trip readiness page: the technician's 7 am check of a visit's exhibits.

One row per exhibit, one cell per check (state, agent version, configuration, self-test,
clock, disk, power, backlog), each with a word and a mark, never colour alone; a banner
that is green only when every check of every exhibit is; one button that self-tests
every exhibit of the visit, and one per exhibit that accepts the configuration it reports
as the expected one. The page refreshes itself every 10 seconds (htmx), so self-test
results appear while the technician walks from exhibit to exhibit.
"""

from __future__ import annotations

from typing import Annotated, NamedTuple

from fastapi import APIRouter, Path, Response

from fleet_api.agent_versions import VersionBasis
from fleet_api.deps import PublisherDep, SessionDep, SettingsDep
from fleet_api.errors import BrokerUnavailable
from fleet_api.models.exhibits import ExhibitUpdate
from fleet_api.models.readiness import ExhibitReadiness, ReadinessCheck
from fleet_api.outbound import self_test_visit
from fleet_api.readiness import Check, Verdict
from fleet_api.routes.fleet import thresholds
from fleet_api.routes.readiness import readiness_limits
from fleet_api.store.exhibits import get_exhibit, update_exhibit
from fleet_api.store.readiness import visit_readiness
from fleet_api.store.visits import get_visit
from fleet_api.web.page import PREFIX, Page, PostedForm, TechnicianPage, ViewerPage
from fleet_api.web.queries import school_names
from fleet_api.web.route import PageRoute
from fleet_api.web.texts import unknown_version

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

VisitId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ExhibitId = Annotated[str, Path(min_length=1, max_length=200)]
MARKS = {Verdict.READY: "✓", Verdict.NOT_READY: "✗", Verdict.UNKNOWN: "?"}
BADGES = {Verdict.READY: "online", Verdict.NOT_READY: "offline", Verdict.UNKNOWN: "warning"}


class Cell(NamedTuple):
    """One check of one exhibit as the table shows it."""

    verdict: str
    badge: str
    label: str
    text: str


@router.get("/visits/{visit_id}/readiness")
def readiness_page(
    page: ViewerPage, session: SessionDep, settings: SettingsDep, visit_id: VisitId
) -> Response:
    """Every exhibit of the visit, checked for the trip."""
    readiness = visit_readiness(
        session,
        visit_id=visit_id,
        thresholds=thresholds(settings),
        limits=readiness_limits(settings),
        now=page.now,
    )
    visit = get_visit(session, visit_id=visit_id, now=page.now)
    school = school_names(session.connection(), [visit.school_id]).get(visit.school_id)
    cells = {
        exhibit.exhibit_id: {
            check.check.value: Cell(
                check.verdict.value,
                BADGES[check.verdict],
                f"{MARKS[check.verdict]} {_verdict_word(page, check.verdict)}",
                check_text(page, exhibit, check),
            )
            for check in exhibit.checks
        }
        for exhibit in readiness.exhibits
    }
    return page.render(
        "visits/readiness.html",
        visit=visit,
        school=school,
        readiness=readiness,
        cells=cells,
        columns=_columns(page),
        version_basis=_version_basis(
            page, readiness.current_agent_version_basis, readiness.current_agent_version
        ),
        notice=page.request.query_params.get("notice"),
        started=page.request.query_params.get("started"),
        self_test_s=settings.readiness_self_test_s,
    )


@router.post("/visits/{visit_id}/self-test")
def self_test_all(
    page: TechnicianPage,
    form: PostedForm,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    visit_id: VisitId,
) -> Response:
    """Start a self-test on every exhibit of the visit, then show the readiness again."""
    get_visit(session, visit_id=visit_id)
    try:
        sent = self_test_visit(
            session,
            publisher,
            visit_id=visit_id,
            seconds=settings.readiness_self_test_s,
            timeout_s=settings.mqtt_publish_timeout_s,
            actor=page.actor,
        )
    except BrokerUnavailable:
        session.rollback()
        return page.redirect(page.url(f"/visits/{visit_id}/readiness?notice=broker"))
    return page.redirect(
        page.url(f"/visits/{visit_id}/readiness?notice=self_test&started={len(sent)}")
    )


@router.post("/exhibits/{exhibit_id}/expected-config")
def accept_config(
    page: TechnicianPage,
    form: PostedForm,
    session: SessionDep,
    exhibit_id: ExhibitId,
) -> Response:
    """Expect the configuration the exhibit reports now (the hash the technician saw)."""
    get_exhibit(session, exhibit_id=exhibit_id)
    seen = form.get("config_hash")
    visit = form.get("visit_id")
    if isinstance(seen, str) and seen:
        update_exhibit(
            session,
            exhibit_id=exhibit_id,
            change=ExhibitUpdate(expected_config_hash=seen),
            actor=page.actor,
        )
        session.commit()
    if isinstance(visit, str) and visit.isdigit():
        return page.redirect(page.url(f"/visits/{int(visit)}/readiness?notice=config"))
    return page.redirect(page.url(f"/exhibits/{exhibit_id}?notice=config"))


def _columns(page: Page) -> list[tuple[str, str]]:
    return [
        (Check.STATE.value, page.gettext("State")),
        (Check.AGENT_VERSION.value, page.gettext("Agent version")),
        (Check.CONFIG.value, page.gettext("Configuration")),
        (Check.SELF_TEST.value, page.gettext("Self-test")),
        (Check.CLOCK.value, page.gettext("Clock")),
        (Check.DISK.value, page.gettext("Free disk")),
        (Check.POWER.value, page.gettext("Power")),
        (Check.BACKLOG.value, page.gettext("Records waiting (backlog)")),
    ]


def _verdict_word(page: Page, verdict: Verdict) -> str:
    words = {
        Verdict.READY: page.gettext("ready"),
        Verdict.NOT_READY: page.gettext("not ready"),
        Verdict.UNKNOWN: page.gettext("not known"),
    }
    return words[verdict]


def _version_basis(page: Page, basis: VersionBasis, version: str | None) -> str:
    if basis is VersionBasis.SETTING:
        return page.gettext(
            "Agent versions are compared with %(version)s, the version set for the fleet "
            "(FLEET_AGENT_CURRENT_VERSION).",
            version=version,
        )
    if basis is VersionBasis.NEWEST_REPORTED:
        return page.gettext(
            "Agent versions are compared with %(version)s, the newest version an exhibit of "
            "the fleet reports (no version is set with FLEET_AGENT_CURRENT_VERSION).",
            version=version,
        )
    return page.gettext(
        "No exhibit has reported a version to compare with, and none is set with "
        "FLEET_AGENT_CURRENT_VERSION."
    )


def check_text(page: Page, exhibit: ExhibitReadiness, check: ReadinessCheck) -> str:
    """One check of one exhibit, said in the page's language with its numbers."""
    reason = check.reason
    beat = exhibit.heartbeat
    if reason == "no_heartbeat":
        return page.gettext("No heartbeat yet.")
    if check.check is Check.STATE:
        return _state_text(page, exhibit, reason)
    if check.check is Check.AGENT_VERSION:
        version = exhibit.agent_version or ""
        texts = {
            "current": version,
            "outdated": page.gettext("%(version)s is outdated: update it.", version=version),
            "not_comparable": page.gettext("%(version)s cannot be compared.", version=version),
        }
        return texts.get(reason) or page.gettext("Not reported yet.")
    if check.check is Check.CONFIG:
        return _config_text(page, exhibit, reason)
    if check.check is Check.SELF_TEST:
        return _self_test_text(page, exhibit, reason)
    if check.check is Check.CLOCK:
        return (
            page.gettext("synchronised") if reason == "synced" else page.gettext("not synchronised")
        )
    if check.check is Check.DISK:
        if beat is None or beat.disk_free_bytes is None:
            return page.gettext("Not reported.")
        return page.gettext("%(mb)s MB free", mb=page.fmt.number(beat.disk_free_bytes / 1_000_000))
    if check.check is Check.POWER:
        texts = {
            "fine": page.gettext("fine"),
            "under_voltage": page.gettext("under-voltage"),
            "throttled": page.gettext("throttled"),
        }
        return texts.get(reason) or page.gettext("Not reported (not a Raspberry Pi?).")
    depth = 0 if beat is None else beat.outbox_depth
    return page.ngettext("%(num)s record waiting", "%(num)s records waiting", depth)


def _state_text(page: Page, exhibit: ExhibitReadiness, reason: str) -> str:
    texts = {
        "online": page.gettext("Online"),
        "offline": page.gettext("Offline: switch it on and check its Wi-Fi."),
        "never_heard": page.gettext("Never heard from: switch it on."),
        "in_another_visit": page.gettext(
            "Visit %(visit)s has it right now.", visit=exhibit.visit_now
        ),
        "checked_out_elsewhere": page.gettext(
            "Still checked out to visit %(visit)s: check that visit in first.",
            visit=exhibit.assigned_visit_id,
        ),
    }
    return texts[reason]


def _config_text(page: Page, exhibit: ExhibitReadiness, reason: str) -> str:
    texts = {
        "matches": page.gettext("As expected"),
        "drifted": page.gettext(
            "Reports %(reported)s, expected %(expected)s.",
            reported=exhibit.config_hash or "",
            expected=exhibit.expected_config_hash or "",
        ),
        "inputs_differ": page.gettext("Counts under other inputs than those registered."),
        "refused": page.gettext(
            "Refused configuration version %(version)s: %(reason)s",
            version=exhibit.expected_config_version or "",
            reason=exhibit.config_refused_reason or "",
        ),
        "waiting": page.gettext(
            "Holds configuration version %(version)s until its visit ends.",
            version=exhibit.expected_config_version or "",
        ),
        "pending": page.gettext(
            "Configuration version %(version)s was sent; the exhibit has not answered yet.",
            version=exhibit.expected_config_version or "",
        ),
        "unknown_version": unknown_version(page, exhibit.config_version),
        "not_expected": page.gettext(
            "Reports %(reported)s; no configuration is expected of it yet.",
            reported=exhibit.config_hash or "",
        ),
    }
    return texts.get(reason) or page.gettext("Not reported yet.")


def _self_test_text(page: Page, exhibit: ExhibitReadiness, reason: str) -> str:
    result = exhibit.self_test
    when = page.fmt.when(None if result is None else result.received_at, "short")
    sent = exhibit.self_test_command
    if reason == "running" and sent is not None:
        return page.gettext(
            "Running since %(time)s: press every input.", time=page.fmt.time(sent.issued_at)
        )
    if reason == "no_answer" and sent is not None:
        return page.gettext("Sent at %(time)s, never answered.", time=page.fmt.time(sent.issued_at))
    if reason == "not_run" and sent is not None:
        not_run = {
            "expired": page.gettext("Not run: it reached the exhibit too late. Test again."),
            "refused_in_visit": page.gettext(
                "Not run: the exhibit is checked out to a visit (its presses would be "
                "the pupils'). Check it in, or test it at the depot."
            ),
        }
        return not_run.get(str(sent.outcome)) or page.gettext(
            "Not run: the exhibit could not tell how old the request was. Test again."
        )
    if reason == "never":
        return page.gettext("Never tested.")
    if reason == "failed" and result is not None:
        missed = ", ".join(name for name, seen in sorted(result.seen.items()) if not seen)
        return page.gettext("Failed (%(when)s); not reached: %(inputs)s.", when=when, inputs=missed)
    if reason == "stale":
        return page.gettext("Passed, but long ago (%(when)s): test it again.", when=when)
    return page.gettext("Passed (%(when)s).", when=when)
