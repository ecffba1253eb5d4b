"""Languages of the staff pages: which one a request gets, its translations, its formats.

English (``en``, formatted as ``en_GB``) and Latvian (``lv``, ``lv_LV``). Texts are
gettext messages in Babel catalogs under ``fleet_api/translations`` (English is the
source language, so it needs no catalog); numbers, dates, month and day names come
from Babel's CLDR data for the locale. Times are stored in UTC and shown in the
display time zone (``FLEET_WEB_TIME_ZONE``).

A request's language: ``?lang=`` if it names one we have, else the ``fleet_lang``
cookie, else the best match of ``Accept-Language``, else English.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date, format_skeleton, get_day_names
from babel.numbers import format_decimal, format_percent
from babel.support import Translations
from babel.units import format_unit

from fleet_api.web import latvian_dates
from fleet_api.web.latvian_dates import Case

LANGUAGES = {"en": "en_GB", "lv": "lv_LV"}
"""Language code -> Babel locale used for formatting."""
DEFAULT_LANGUAGE = "en"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
DOMAIN = "messages"
NOTHING = "\N{EN DASH}"
"""Shown where a number or time is unknown."""


@lru_cache(maxsize=len(LANGUAGES))
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalog of ``language`` (English: the messages themselves)."""
    if language == DEFAULT_LANGUAGE:
        return gettext.NullTranslations()
    loaded = Translations.load(str(TRANSLATIONS_DIR), [language], domain=DOMAIN)
    if not isinstance(loaded, Translations):
        # Babel quietly falls back to NullTranslations: a page in the wrong language
        # would look like a working one, so a missing catalog is an error.
        raise FileNotFoundError(f"no compiled catalog for {language} under {TRANSLATIONS_DIR}")
    return loaded


def negotiate(accept_language: str | None) -> str:
    """The language of ours the ``Accept-Language`` header prefers most, else English."""
    preferences: list[tuple[float, int, str]] = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            preferences.append((-quality, position, primary))
    return min(preferences)[2] if preferences else DEFAULT_LANGUAGE


def pick_language(query: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The request's language: query, then cookie, then Accept-Language."""
    for chosen in (query, cookie):
        if chosen in LANGUAGES:
            return chosen
    return negotiate(accept_language)


@dataclass(frozen=True, slots=True)
class Formats:
    """Numbers, dates and times for one language, times in the display time zone."""

    language: str
    zone: tzinfo

    @property
    def locale(self) -> Locale:
        """The Babel locale."""
        return _locale(LANGUAGES[self.language])

    def number(self, value: float | None, digits: int = 0) -> str:
        """``1 234`` / ``1,234``; ``digits`` fraction digits at most; an en dash for None."""
        if value is None:
            return NOTHING
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, share: float | None) -> str:
        """A share (0..1) as a percentage."""
        if share is None:
            return NOTHING
        return format_percent(share, format="#,##0.#%", locale=self.locale)

    def seconds(self, value: float | None) -> str:
        """A duration in seconds or minutes, with the unit in the language."""
        if value is None:
            return NOTHING
        if value >= 120:
            return format_unit(
                round(value / 60, 1), "duration-minute", length="short", locale=self.locale
            )
        return format_unit(round(value, 1), "duration-second", length="short", locale=self.locale)

    def local(self, moment: datetime) -> datetime:
        """``moment`` in the display time zone."""
        return moment.astimezone(self.zone)

    def day(
        self, value: date | datetime | None, style: str = "medium", case: Case = "nominative"
    ) -> str:
        """A date (a datetime's local date) in the language's ``style`` or pattern.

        ``case`` is the Latvian form the sentence needs: ``genitive`` after from, until,
        since ("no", "līdz", "kopš"), ``locative`` for on ("5. decembrī"); English ignores it.
        """
        if value is None:
            return NOTHING
        if isinstance(value, datetime):
            value = self.local(value).date()
        if self.language == "lv" and style in ("medium", "long"):
            return latvian_dates.long_date(value, case)
        if self.language == "lv" and style == "short":
            return latvian_dates.numeric_date(value)
        return format_date(value, format=style, locale=self.locale)

    def when(self, value: datetime | None, style: str = "medium", case: Case = "nominative") -> str:
        """A local date and time; ``style`` is a CLDR length (short, medium, ...)."""
        if value is None:
            return NOTHING
        return f"{self.day(value, style, case)} {self.time(value)}"

    def time(self, value: datetime | None) -> str:
        """The local time of day, hours and minutes."""
        if value is None:
            return NOTHING
        return format_skeleton("Hm", self.local(value), locale=self.locale)

    def hour_label(self, hour: datetime, *, with_day: bool) -> str:
        """A timeline label: ``09:00``, or ``23. nov. 09:00`` when the visit spans days."""
        if not with_day:
            return self.time(hour)
        day = format_skeleton("MMMd", self.local(hour), locale=self.locale)
        return f"{day} {self.time(hour)}"

    def month_title(self, first_day: date) -> str:
        """``November 2026`` / ``2026. gada novembris``, as a stand-alone title."""
        if self.language == "lv":
            return latvian_dates.month_title(first_day)
        return format_skeleton("yMMMM", first_day, locale=self.locale)

    def weekday_names(self) -> list[str]:
        """Abbreviated weekday names, from the locale's first day of the week."""
        names = get_day_names("abbreviated", context="stand-alone", locale=self.locale)
        first = self.locale.first_week_day
        return [str(names[(first + offset) % 7]) for offset in range(7)]

    def weekday_full_names(self) -> list[str]:
        """Full weekday names in the same order (for screen readers)."""
        names = get_day_names("wide", context="stand-alone", locale=self.locale)
        first = self.locale.first_week_day
        return [str(names[(first + offset) % 7]) for offset in range(7)]

    def local_midnight(self, day: date) -> datetime:
        """The moment ``day`` starts in the display time zone, in UTC (as the API has it)."""
        return datetime(day.year, day.month, day.day, tzinfo=self.zone).astimezone(UTC)

    def today(self, now: datetime) -> tuple[datetime, datetime]:
        """The local day holding ``now``, as [start, end)."""
        start = self.local_midnight(self.local(now).date())
        end = self.local_midnight(self.local(now).date() + timedelta(days=1))
        return start, end


@lru_cache(maxsize=len(LANGUAGES))
def _locale(name: str) -> Locale:
    return Locale.parse(name)
