"""Static files: the vendored libraries (pinned versions, checked sums), /docs without
any CDN, and the colour contrast of the pages' palette."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from fleet_api.web.rendering import STATIC, TEMPLATES

VENDOR = STATIC / "vendor"

# (foreground, background) pairs of the palette in site.css that carry text: WCAG 2
# contrast at least 4.5:1 (docs/web.md lists the ratios).
TEXT_PAIRS = [
    ("text", "background"),
    ("text", "surface"),
    ("text", "stripe"),
    ("muted", "background"),
    ("muted", "surface"),
    ("muted", "stripe"),
    ("link", "background"),
    ("link", "surface"),
    ("link", "stripe"),
    ("header-text", "header"),
    ("warning-text", "warning-bg"),
    ("error-text", "error-bg"),
    ("error-text", "background"),
    ("ok-text", "ok-bg"),
    ("info-text", "info-bg"),
    ("button-text", "button"),
    ("button", "background"),
    ("text", "focus"),
]
# Borders and focus rings: at least 3:1 against what they sit on (WCAG 1.4.11).
GRAPHIC_PAIRS = [
    ("border", "background"),
    ("text", "background"),  # the outer focus ring on light pages
    ("focus", "header"),  # the inner focus ring on the dark header
    ("warning-edge", "warning-bg"),
]


def palette() -> dict[str, str]:
    """The ``--name: #rrggbb`` custom properties of site.css."""
    css = (STATIC / "web" / "site.css").read_text()
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;", css))


def luminance(colour: str) -> float:
    """WCAG 2 relative luminance of ``#rrggbb``."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two colours."""
    high, low = sorted((luminance(first), luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_is_computed_as_wcag_defines_it() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(("foreground", "background"), TEXT_PAIRS)
def test_text_colours_have_at_least_4_5_to_1(foreground: str, background: str) -> None:
    colours = palette()
    assert contrast(colours[foreground], colours[background]) >= 4.5


@pytest.mark.parametrize(("foreground", "background"), GRAPHIC_PAIRS)
def test_borders_and_focus_rings_have_at_least_3_to_1(foreground: str, background: str) -> None:
    colours = palette()
    assert contrast(colours[foreground], colours[background]) >= 3.0


def test_vendored_files_are_the_pinned_versions_with_the_recorded_sums() -> None:
    readme = (VENDOR / "README.md").read_text()
    sums = {name: digest for digest, name in re.findall(r"^([0-9a-f]{64})  (\S+)$", readme, re.M)}
    assert len(sums) == 5
    for name, digest in sums.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == digest, name
    htmx = (VENDOR / "htmx-2.0.11" / "htmx.min.js").read_text()
    assert 'version:"2.0.11"' in htmx  # htmx 2.x: npm's latest (4.x) is another API
    assert "Chart.js v4.6.1" in (VENDOR / "chartjs-4.6.1" / "chart.umd.min.js").read_text()
    base = (TEMPLATES / "base.html").read_text()
    for path in re.findall(r'src="/static/([^"]+)"', base):
        assert (STATIC / path).is_file(), path


async def test_docs_load_swagger_ui_from_our_own_static_files(
    anonymous: httpx.AsyncClient,
) -> None:
    docs = await anonymous.get("/docs")
    assert docs.status_code == 200
    assets = re.findall(r'(?:src|href)=["\']([^"\']+)["\']', docs.text)
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in assets
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui.css" in assets
    assert not [url for url in assets if "//" in url], "no asset from another host"
    assert "cdn" not in docs.text.lower()
    for url in assets:
        served = await anonymous.get(url)
        assert served.status_code == 200, url
    script = await anonymous.get("/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js")
    assert "javascript" in script.headers["content-type"]
    assert (await anonymous.get("/docs/oauth2-redirect")).status_code == 200
    assert (await anonymous.get("/redoc")).status_code == 404
    assert (await anonymous.get("/openapi.json")).json()["info"]["title"] == "Exhibit fleet API"


async def test_page_routes_stay_out_of_the_api_schema(anonymous: httpx.AsyncClient) -> None:
    paths = (await anonymous.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path.startswith(("/ui", "/static", "/docs"))]
    assert "/visits/{visit_id}/usage" in paths


async def test_static_css_and_scripts_are_served(anonymous: httpx.AsyncClient) -> None:
    for path in ("web/site.css", "web/charts.js", "vendor/htmx-2.0.11/htmx.min.js"):
        response = await anonymous.get(f"/static/{path}")
        assert response.status_code == 200, path
    assert (await anonymous.get("/static/../settings.py")).status_code == 404


def test_templates_have_no_inline_script_or_style() -> None:
    """The pages' CSP allows scripts and styles from our own files only."""
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*(src=|application/json))", text), template
        assert "<style" not in text, template
        assert not re.search(r'\sstyle="', text), template
        assert not re.search(r"\son[a-z]+=", text), template


def test_chart_colours_stand_out_from_the_white_page() -> None:
    script = (STATIC / "web" / "charts.js").read_text()
    (listed,) = re.findall(r"COLOURS = \[([^\]]+)\]", script)
    colours = re.findall(r"#[0-9a-fA-F]{6}", listed)
    assert len(colours) >= 3
    for colour in colours:
        assert contrast(colour, "#ffffff") >= 3.0, colour
