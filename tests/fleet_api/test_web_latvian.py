"""Latvian that a teacher would write: every word of the catalogue in the Latvian
dictionary (diacritics), dates in the case their preposition asks for, four-digit years,
no doubled full stops, plural forms by the number, and the centre's chosen terms."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.messages.pofile import read_po
from fastapi import FastAPI

from fleet_api.web.i18n import TRANSLATIONS_DIR, Formats, translations
from tests.fleet_api.test_web_access import PAGES
from tests.fleet_api.tokens import ADMIN_TOKEN
from tests.fleet_api.web_client import log_in, seed_visit

PO = TRANSLATIONS_DIR / "lv" / "LC_MESSAGES" / "messages.po"
LV = Formats("lv", ZoneInfo("Europe/Riga"))
# Words the dictionary (Debian's hunspell-lv 1.4) lacks but the pages rightly use:
# abbreviations, units, the token prefix, and words younger than the dictionary.
NOT_IN_DICTIONARY = {
    "API", "C", "Fi", "Wi", "ISO", "NUTS", "PDF", "STEM", "XLSX", "CSV", "s", "fleet",
    "h", "Raspberry", "Pi",
    "bezsaistē", "Bezsaistē", "jaucējkods", "valstspilsēta", "Valstspilsēta", "valstspilsētās",
}  # fmt: skip
# Terms the review found odd in a school, and what the pages say instead (docs/web.md).
AVOIDED = {
    "vizīt": "izbraukums",
    "vizīš": "izbraukumu",
    "sesij": "lietošanas reizes",
    "sasniegtie skolēni": "skolēnu dalības reizes",
    "laika mediāna": "tipiskais laiks",
    "eksponātu parks": "ceļojošie eksponāti",
    "nav obligāts": "pēc izvēles",
    "mirgot gaismu": "likt gaismai mirgot",
}


def _latvian_strings() -> list[str]:
    with PO.open("rb") as file:
        catalog = read_po(file)
    found = []
    for message in catalog:
        if message.id:
            found += [message.string] if isinstance(message.string, str) else message.string
    return found


def test_every_latvian_word_is_spelt_as_the_dictionary_has_it() -> None:
    hunspell = shutil.which("hunspell")
    if hunspell is None or not os.path.exists("/usr/share/hunspell/lv_LV.dic"):
        message = "hunspell and hunspell-lv are needed: sudo apt-get install hunspell hunspell-lv"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (CI=true: a missing real component is a failure)")
        pytest.skip(message)
    words = set()
    for text in _latvian_strings():
        text = re.sub(r"%\(\w+\)[sd]|\b[A-Z]+(?:_[A-Z]+)+\b", " ", text)  # and setting names
        words |= set(re.findall(r"[^\W\d_]+", text))
    checked = subprocess.run(
        [hunspell, "-d", "lv_LV", "-l"],
        input="\n".join(sorted(words)),
        capture_output=True,
        text=True,
        check=True,
    )
    unknown = set(checked.stdout.split()) - NOT_IN_DICTIONARY
    assert unknown == set(), f"not Latvian as written (a missing diacritic?): {sorted(unknown)}"
    # The check can fail: a word without its diacritics is caught.
    wrong = subprocess.run(
        [hunspell, "-d", "lv_LV", "-l"], input="skolenu", capture_output=True, text=True
    )
    assert wrong.stdout.split() == ["skolenu"]


def test_the_catalogue_uses_the_chosen_terms() -> None:
    for text in _latvian_strings():
        for avoided, instead in AVOIDED.items():
            assert avoided not in text.casefold(), f"{text!r}: say {instead!r}"
        assert ".." not in text, text
        assert "gada." not in text, text


def test_dates_take_the_case_their_preposition_asks_for() -> None:
    day = date(2026, 1, 1)
    assert LV.day(day) == "2026. gada 1. janvāris"
    assert LV.day(day, case="genitive") == "2026. gada 1. janvāra"  # no, līdz, kopš
    assert LV.day(date(2026, 12, 5), case="locative") == "2026. gada 5. decembrī"
    assert LV.day(date(2026, 12, 5), "short") == "05.12.2026."  # four-digit year
    assert LV.month_title(date(2026, 12, 1)) == "2026. gada decembris"  # no stray stop
    moment = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    assert LV.when(moment, case="genitive") == "2026. gada 1. marta 09:30"  # Riga time
    english = Formats("en", ZoneInfo("Europe/Riga"))
    assert english.day(day, case="genitive") == english.day(day) == "1 Jan 2026"


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 ieraksts gaida nosūtīšanu."),
        (21, "21 ieraksts gaida nosūtīšanu."),
        (61, "61 ieraksts gaida nosūtīšanu."),
        (11, "11 ieraksti gaida nosūtīšanu."),
        (2, "2 ieraksti gaida nosūtīšanu."),
        (111, "111 ieraksti gaida nosūtīšanu."),
        (0, "0 ierakstu gaida nosūtīšanu."),
    ],
)
def test_counts_take_the_latvian_plural_form_of_their_number(n: int, expected: str) -> None:
    latvian = translations("lv")
    said = latvian.ngettext(
        "%(num)s record is waiting to be sent.", "%(num)s records are waiting to be sent.", n
    )
    assert said % {"num": n} == expected


async def test_latvian_pages_say_dates_and_terms_as_a_teacher_would(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    visit_id = await seed_visit(client, app.state.engine)
    await log_in(anonymous, ADMIN_TOKEN)
    for path in PAGES:
        separator = "&" if "?" in path else "?"
        html = (await anonymous.get(path.format(visit=visit_id) + separator + "lang=lv")).text
        visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.DOTALL)
        lowered = visible.casefold()
        for avoided in AVOIDED:
            assert avoided not in lowered, (path, avoided)
        assert not re.search(r"\.\s*\.(?!\.)", visible.replace("…", "")), path
        assert not re.search(r"\b\d{2}\.\d{2}\.\d{2}\b(?!\d)", visible), path  # 05.12.26
        assert "gada." not in visible, path
    funder = (await anonymous.get("/ui/reports/funder?from=2026-01-01&to=2026-12-31&lang=lv")).text
    assert "no 2026. gada 1. janvāra līdz 2026. gada 31. decembra." in funder
    dashboard = (await anonymous.get("/ui/?lang=lv")).text
    assert "Brīdinājumi" in dashboard
    assert "Paziņojumi" in dashboard
