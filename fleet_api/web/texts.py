"""Words for the API's codes (alerts, data status, connectivity, roles), in the page's language.

The API speaks in stable codes and English sentences for programs and logs; the pages
say the same in the reader's language, built from the codes and the numbers.
"""

from __future__ import annotations

from fleet_api.alerts import AlertCode, Connectivity
from fleet_api.completeness import DataStatus
from fleet_api.config_drift import ConfigState
from fleet_api.models.health import ExhibitHealth
from fleet_api.web.i18n import NOTHING
from fleet_api.web.page import Page


def connectivity(page: Page, state: Connectivity) -> str:
    """Online / offline / never heard from."""
    names = {
        Connectivity.ONLINE: page.gettext("Online"),
        Connectivity.OFFLINE: page.gettext("Offline"),
        Connectivity.UNKNOWN: page.gettext("Never heard from"),
    }
    return names[state]


def data_status(page: Page, status: DataStatus | None) -> str:
    """Whether an exhibit's numbers for a visit can still change."""
    if status is None:
        return page.gettext("No exhibits")
    names = {
        DataStatus.IN_PROGRESS: page.gettext("Visit in progress"),
        DataStatus.INCOMPLETE: page.gettext("Incomplete: records missing"),
        DataStatus.UNPLACED: page.gettext("Not final: records that could not be placed"),
        DataStatus.PENDING: page.gettext("Waiting for the exhibit to report"),
        DataStatus.FINAL: page.gettext("Complete"),
    }
    return names[status]


def alert(page: Page, code: AlertCode, exhibit: ExhibitHealth) -> str:
    """One alert about ``exhibit``, said from its code and the exhibit's numbers."""
    beat = exhibit.heartbeat
    if code is AlertCode.OFFLINE_DURING_VISIT:
        return page.gettext(
            "Offline during visit %(visit)s: it keeps counting and sends its records when it "
            "reconnects.",
            visit=exhibit.visit_now,
        )
    if code is AlertCode.OFFLINE:
        return page.gettext(
            "Offline since %(when)s.", when=page.fmt.when(exhibit.last_seen_at, case="genitive")
        )
    if code is AlertCode.UNDER_VOLTAGE:
        return page.gettext("Under-voltage: check the power supply and its cable.")
    if code is AlertCode.THROTTLED:
        return page.gettext("The processor is slowed down (heat or power).")
    if code is AlertCode.LOW_DISK:
        free = None if beat is None or beat.disk_free_bytes is None else beat.disk_free_bytes
        return page.gettext(
            "Little disk space left: %(mb)s MB free.",
            mb=page.fmt.number(None if free is None else free / 1_000_000),
        )
    if code is AlertCode.DATA_GAPS:
        return page.ngettext(
            "%(num)s record is missing.",
            "%(num)s records are missing.",
            exhibit.missing_records,
        )
    if code is AlertCode.SELF_TEST_FAILED:
        return page.gettext("The latest self-test did not reach every input.")
    if code is AlertCode.CONFIG_DRIFT:
        if exhibit.config is ConfigState.INPUTS_DIFFER:
            return page.gettext("It counts under other input names than those registered.")
        if exhibit.config is ConfigState.UNKNOWN_VERSION:
            return unknown_version(page, exhibit.config_version)
        if exhibit.config is ConfigState.REFUSED:
            return page.gettext(
                "It refused configuration version %(version)s: %(reason)s",
                version=exhibit.expected_config_version or NOTHING,
                reason=exhibit.config_refused_reason or NOTHING,
            )
        return page.gettext(
            "Its configuration is not the expected one (config hash %(reported)s, expected "
            "%(expected)s).",
            reported=exhibit.config_hash or NOTHING,
            expected=exhibit.expected_config_hash or NOTHING,
        )
    if code is AlertCode.AGENT_OUTDATED:
        return page.gettext(
            "Its agent version %(version)s is outdated.", version=exhibit.agent_version or NOTHING
        )
    if code is AlertCode.UNPLACED_RECORDS:
        return page.ngettext(
            "%(num)s record could not be placed in a visit (its clock was never synchronised); "
            "it may belong to visit %(visits)s. Staff can assign it.",
            "%(num)s records could not be placed in a visit (its clock was never synchronised); "
            "they may belong to visit %(visits)s. Staff can assign them.",
            exhibit.unplaced_records,
            visits=", ".join(str(v) for v in exhibit.unplaced_candidate_visit_ids) or NOTHING,
        )
    if code is AlertCode.UNSYNCED_CLOCK:
        return page.gettext("Its clock is not synchronised; times are corrected where possible.")
    if code is AlertCode.SEQS_RESTARTED:
        return page.ngettext(
            "Its record numbers started again (a reflashed SD card or a restored backup?): "
            "%(num)s record reuses a number stored from an earlier boot. It is kept in the "
            "quarantine as a conflict, not counted.",
            "Its record numbers started again (a reflashed SD card or a restored backup?): "
            "%(num)s records reuse numbers stored from an earlier boot. They are kept in the "
            "quarantine as conflicts, not counted.",
            exhibit.seq_restarts,
        )
    if code is AlertCode.SEQ_CONFLICTS:
        return page.ngettext(
            "%(num)s record reused a stored record number with other values; the stored one "
            "is counted, the other kept in the quarantine as a conflict.",
            "%(num)s records reused stored record numbers with other values; the stored ones "
            "are counted, the others kept in the quarantine as conflicts.",
            exhibit.conflicts,
        )
    if code is AlertCode.SUBSCRIPTION_REFUSED:
        refused = (beat.refused_subscriptions or {}) if beat is not None else {}
        return page.gettext(
            "The broker refused its subscription to %(topics)s: visit assignments and "
            "commands sent there do not reach it. Its broker account's role must allow it.",
            topics=", ".join(f"{topic} ({reason})" for topic, reason in sorted(refused.items())),
        )
    depth = 0 if beat is None else beat.outbox_depth
    return page.ngettext(
        "%(num)s record is waiting to be sent.", "%(num)s records are waiting to be sent.", depth
    )


def unknown_version(page: Page, version: int | None) -> str:
    """An exhibit runs a version the fleet has no record of (restored from an older backup)."""
    return page.gettext(
        "It runs configuration version %(version)s, which this fleet has no record of "
        "(restored from an older backup?): push its configuration again.",
        version=version or NOTHING,
    )


def config_state(page: Page, exhibit: ExhibitHealth) -> str:
    """What the fleet can say of the exhibit's configuration, in a sentence."""
    version = exhibit.expected_config_version or NOTHING
    texts = {
        ConfigState.MATCHES: page.gettext("It runs the expected configuration."),
        ConfigState.DRIFTED: page.gettext(
            "It runs another configuration than expected (config hash %(reported)s, expected "
            "%(expected)s).",
            reported=exhibit.config_hash or NOTHING,
            expected=exhibit.expected_config_hash or NOTHING,
        ),
        ConfigState.INPUTS_DIFFER: page.gettext(
            "It counts under other input names than those registered."
        ),
        ConfigState.REFUSED: page.gettext(
            "It refused configuration version %(version)s: %(reason)s",
            version=version,
            reason=exhibit.config_refused_reason or NOTHING,
        ),
        ConfigState.WAITING: page.gettext(
            "Holds configuration version %(version)s until its visit ends.", version=version
        ),
        ConfigState.PENDING: page.gettext(
            "Configuration version %(version)s was sent; the exhibit has not answered yet.",
            version=version,
        ),
        ConfigState.UNKNOWN_VERSION: unknown_version(page, exhibit.config_version),
        ConfigState.NOT_EXPECTED: page.gettext("No configuration is expected of it yet."),
        ConfigState.NOT_REPORTED: page.gettext("Not reported yet."),
    }
    return texts[exhibit.config]
