"""Dates in Latvian as a teacher writes them, where CLDR's patterns fall short.

Babel (CLDR 4x) writes ``2026. gada 5. dec.`` (an abbreviation whose full stop doubles
at the end of a sentence), ``05.12.26`` (a two-digit year) and ``2026. gada. decembris``
(a stray full stop in month titles), and knows only the nominative month. A date after
"no", "līdz" or "kopš" takes the genitive (``no 2026. gada 1. janvāra``), a date saying
when something happened the locative (``2026. gada 5. decembrī``).
"""

from __future__ import annotations

from datetime import date
from typing import Literal

Case = Literal["nominative", "genitive", "locative"]
"""Which form of the month: the sentence around the date decides (see the module doc)."""

_MONTHS: dict[Case, tuple[str, ...]] = {
    "nominative": (
        "janvāris", "februāris", "marts", "aprīlis", "maijs", "jūnijs",
        "jūlijs", "augusts", "septembris", "oktobris", "novembris", "decembris",
    ),
    "genitive": (
        "janvāra", "februāra", "marta", "aprīļa", "maija", "jūnija",
        "jūlija", "augusta", "septembra", "oktobra", "novembra", "decembra",
    ),
    "locative": (
        "janvārī", "februārī", "martā", "aprīlī", "maijā", "jūnijā",
        "jūlijā", "augustā", "septembrī", "oktobrī", "novembrī", "decembrī",
    ),
}  # fmt: skip


def long_date(day: date, case: Case = "nominative") -> str:
    """``2026. gada 5. decembris`` (or ``decembra``, ``decembrī``): full month, no abbreviation."""
    return f"{day.year}. gada {day.day}. {_MONTHS[case][day.month - 1]}"


def numeric_date(day: date) -> str:
    """``05.12.2026.``: the four-digit year, and the full stop that ends a Latvian ordinal."""
    return f"{day:%d.%m.%Y}."


def month_title(first_day: date) -> str:
    """``2026. gada decembris``."""
    return f"{first_day.year}. gada {_MONTHS['nominative'][first_day.month - 1]}"
