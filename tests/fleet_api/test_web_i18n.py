"""English and Latvian: choosing the language, the catalogs being complete and current,
every label of every page translated, and numbers and dates formatted per language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po
from fastapi import FastAPI

from fleet_api.web.i18n import TRANSLATIONS_DIR, Formats, negotiate, pick_language
from tests.fleet_api.test_web_access import PAGES
from tests.fleet_api.tokens import ADMIN_TOKEN
from tests.fleet_api.web_client import log_in, seed_visit

ROOT = Path(__file__).resolve().parents[2]
PO = TRANSLATIONS_DIR / "lv" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")
POT = TRANSLATIONS_DIR / "messages.pot"


def _catalog(path: Path) -> Catalog:
    with path.open("rb") as file:
        return read_po(file)


def _ids(catalog: Catalog) -> set[str | tuple[str, ...]]:
    return {m.id if isinstance(m.id, str) else tuple(m.id) for m in catalog if m.id}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("lv-LV,lv;q=0.9,en;q=0.8", "lv"),
        ("en-GB,en;q=0.9,lv;q=0.8", "en"),
        ("de-DE, en;q=0.5", "en"),
        ("ru, lv;q=0.7, en;q=0.2", "lv"),
        ("lv;q=0, en", "en"),
        ("lv;q=banana", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_accept_language_picks_our_best_match(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_the_query_beats_the_cookie_which_beats_the_browser() -> None:
    assert pick_language("lv", "en", "en") == "lv"
    assert pick_language(None, "lv", "en") == "lv"
    assert pick_language("xx", None, "lv") == "lv"
    assert pick_language(None, "klingon", None) == "en"


def test_formats_follow_the_language_and_the_display_time_zone() -> None:
    riga = ZoneInfo("Europe/Riga")
    english, latvian = Formats("en", riga), Formats("lv", riga)
    moment = datetime(2026, 5, 4, 6, 30, tzinfo=UTC)  # 09:30 in Riga (summer time)
    assert english.number(1234567) == "1,234,567"
    assert latvian.number(1234567) == "1\N{NO-BREAK SPACE}234\N{NO-BREAK SPACE}567"
    assert (english.number(0.8333, 2), latvian.number(0.8333, 2)) == ("0.83", "0,83")
    assert english.number(None) == "\N{EN DASH}"
    assert english.when(moment) == "4 May 2026 09:30"
    assert latvian.when(moment) == "2026. gada 4. maijs 09:30"
    assert english.month_title(date(2026, 2, 1)) == "February 2026"
    assert "februāris" in latvian.month_title(date(2026, 2, 1))
    assert english.weekday_names()[0] == "Mon"
    assert latvian.weekday_full_names()[6] == "Svētdiena"
    assert latvian.local_midnight(date(2026, 5, 4)) == datetime(2026, 5, 3, 21, tzinfo=UTC)


def _only_the_package(path: str) -> bool:
    """Walk fleet_api/ only (what babel.cfg names), not the venv or the tests."""
    parts = Path(path).relative_to(ROOT).parts
    return parts[0] == "fleet_api"


def test_the_template_catalog_is_current() -> None:
    """messages.pot holds exactly what the code and templates ask to translate."""
    with (TRANSLATIONS_DIR / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    extracted: set[str | tuple[str, ...]] = set()
    for _, _, message, _, _ in extract_from_dir(
        ROOT,
        method_map,
        options_map,
        keywords={"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)},
        directory_filter=_only_the_package,
    ):
        extracted.add(message if isinstance(message, str) else tuple(message))
    assert extracted == _ids(_catalog(POT)), "run: pybabel extract (see docs/web.md, Translations)"


def test_every_message_has_a_latvian_translation_with_the_same_placeholders() -> None:
    catalog = _catalog(PO)
    assert _ids(catalog) == _ids(_catalog(POT)), "run: pybabel update (docs/web.md)"
    for message in catalog:
        if not message.id:
            continue
        strings = [message.string] if isinstance(message.string, str) else message.string
        assert all(strings), f"not translated: {message.id!r}"
        assert not message.fuzzy, f"fuzzy: {message.id!r}"
        assert len(strings) == (1 if isinstance(message.id, str) else catalog.num_plurals)
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        wanted = set(re.findall(r"%\((\w+)\)s", " ".join(ids)))
        for text in strings:
            assert set(re.findall(r"%\((\w+)\)s", text)) == wanted, message.id
    assert catalog.num_plurals == 3  # Latvian: 1/21/31..., other, zero


def test_the_compiled_catalog_matches_the_translations() -> None:
    """The committed .mo is what ``pybabel compile`` makes of the .po."""
    with MO.open("rb") as file:
        compiled = read_mo(file)
    assert _strings(compiled) == _strings(_catalog(PO)), (
        "run: pybabel compile -d fleet_api/translations (docs/web.md)"
    )


def _strings(catalog: Catalog) -> dict[object, object]:
    def frozen(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    return {frozen(m.id): frozen(m.string) for m in catalog if m.id}


async def test_the_language_switch_is_remembered_and_the_browser_language_is_the_default(
    anonymous: httpx.AsyncClient,
) -> None:
    login = await anonymous.get("/ui/login", headers={"Accept-Language": "lv-LV,lv;q=0.9"})
    assert '<html lang="lv" data-locale="lv-LV">' in login.text
    assert "Pieteikties" in login.text
    assert "set-cookie" not in login.headers  # nothing chosen yet: nothing stored
    chosen = await anonymous.get("/ui/login?lang=en", headers={"Accept-Language": "lv"})
    assert "fleet_lang=en" in chosen.headers["set-cookie"]
    again = await anonymous.get("/ui/login", headers={"Accept-Language": "lv"})
    assert '<html lang="en" data-locale="en-GB">' in again.text
    assert 'href="/ui/login?lang=lv" lang="lv" hreflang="lv"' in again.text


async def test_every_label_of_every_page_is_latvian(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    """No English message (of two words or more) is left on any page in Latvian."""
    visit_id = await seed_visit(client, app.state.engine)
    english = {
        m.id if isinstance(m.id, str) else m.id[1]
        for m in _catalog(PO)
        if m.id and " " in (m.id if isinstance(m.id, str) else m.id[0])
    }
    literal = {text for text in english if "%(" not in text}
    await log_in(anonymous, ADMIN_TOKEN)
    pages = [
        *PAGES,
        "/ui/visits/new",
        "/ui/visits/{visit}/edit",
        "/ui/schools/new",
        "/ui/visits/999",
    ]

    async def english_on(url: str, language: str) -> list[str]:
        query = ("&" if "?" in url else "?") + "lang=" + language
        html = (await anonymous.get(url + query)).text
        assert f'<html lang="{language}"' in html
        visible = re.sub(r"<script.*?</script>|<[^>]+>", " ", html, flags=re.DOTALL)
        return sorted(text for text in literal if text in visible)

    assert len(await english_on(f"/ui/visits/{visit_id}", "en")) > 10  # the check can fail
    for path in pages:
        url = path.format(visit=visit_id)
        assert await english_on(url, "lv") == [], url
