"""The indicators of a report, each with the definition that ships with it.

A funder's auditor asks what a number means before asking what it is. Every indicator
the reports give has a key (the JSON field and the CSV column), a label and a definition
here, and the same words travel with the JSON report, the CSV and XLSX downloads and the
pages (translated there through the catalogue; ``N_`` only marks them for extraction).
"""

from __future__ import annotations

from dataclasses import dataclass


def N_(message: str) -> str:
    """Mark ``message`` for the translation catalogue without translating it here."""
    return message


@dataclass(frozen=True, slots=True)
class Indicator:
    """What one number of a report counts."""

    key: str
    label: str
    definition: str


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "field_trips_held",
        N_("Field trips held"),
        N_(
            "Visits that took place: checked in, or ended and not cancelled. Planned and "
            "cancelled visits are not counted here; they are listed apart."
        ),
    ),
    Indicator(
        "planned_visits",
        N_("Planned visits (not counted)"),
        N_("Visits in the period that have not ended and were not cancelled."),
    ),
    Indicator(
        "cancelled_visits",
        N_("Cancelled visits (not counted)"),
        N_("Visits in the period that staff cancelled or marked as not held, with a reason."),
    ),
    Indicator(
        "distinct_schools",
        N_("Distinct schools"),
        N_("Schools with at least one field trip held; a school visited twice counts once."),
    ),
    Indicator(
        "distinct_municipalities",
        N_("Distinct municipalities"),
        N_("Municipalities of those schools; one counts once however many schools it has."),
    ),
    Indicator(
        "pupil_participations",
        N_("Pupil participations"),
        N_(
            "Pupils recorded on each field trip held, summed over the trips. A pupil who "
            "took part in two trips counts twice: this is not the number of different children."
        ),
    ),
    Indicator(
        "visits_without_pupil_count",
        N_("Field trips without a pupil count"),
        N_("Field trips held whose pupils were not recorded; they add nothing to the sum."),
    ),
    Indicator(
        "teachers_present",
        N_("Teachers present"),
        N_(
            "The schools' teachers recorded on each field trip held, summed over the trips "
            "(a teacher on two trips counts twice)."
        ),
    ),
    Indicator(
        "programme_deliveries",
        N_("Programmes delivered"),
        N_(
            "Programme deliveries: each programme delivered on each field trip held counts "
            "once (one programme on three trips is three)."
        ),
    ),
    Indicator(
        "distinct_programmes",
        N_("Distinct programmes"),
        N_("Different programmes delivered on at least one field trip held."),
    ),
    Indicator(
        "interactions",
        N_("Interactions"),
        N_(
            "Button presses, sensor triggers and other interactions the exhibits counted "
            "during the field trips held, after debouncing on the exhibit."
        ),
    ),
    Indicator(
        "sessions",
        N_("Sessions"),
        N_(
            "Bursts of interactions at one exhibit ended by an idle pause: roughly, one "
            "visitor or group engaging with it once."
        ),
    ),
    Indicator(
        "median_dwell_s",
        N_("Median time at an exhibit (s)"),
        N_(
            "The middle value of the sessions' durations in seconds: half the sessions were "
            "shorter. Empty when no session was recorded."
        ),
    ),
)
"""In the order reports show them."""

BY_KEY = {indicator.key: indicator for indicator in INDICATORS}
