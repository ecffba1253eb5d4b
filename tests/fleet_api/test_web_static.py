"""Static files: the vendored libraries (pinned versions, checked sums), /docs without
any CDN, and the colour contrast of the pages' palette."""

from __future__ import annotations

import hashlib
import re

import httpx
import pytest

from fleet_api.web.rendering import STATIC, TEMPLATES
from tests.fleet_api.tokens import ADMIN_TOKEN
from tests.fleet_api.web_client import log_in

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
    files = {url.split("?")[0] for url in assets}
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js" in files
    assert "/static/vendor/swagger-ui-5.35.0/swagger-ui.css" in files
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


async def test_pages_and_files_leave_compressed_and_versioned_files_are_kept_a_year(
    client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    await log_in(anonymous, ADMIN_TOKEN)
    funder = await anonymous.get("/ui/reports/funder", headers={"Accept-Encoding": "gzip"})
    assert funder.headers["content-encoding"] == "gzip"
    chart_js = re.search(r'src="(/static/vendor/chartjs-[^"]+\?v=\w{12})"', funder.text)
    assert chart_js is not None, "the funder page draws charts: it loads Chart.js"
    versioned = await anonymous.get(chart_js.group(1), headers={"Accept-Encoding": "gzip"})
    assert versioned.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert versioned.headers["content-encoding"] == "gzip"
    assert versioned.num_bytes_downloaded < len(versioned.content) / 2  # 210 KB -> ~70 KB
    plain = await anonymous.get(chart_js.group(1).split("?")[0])
    assert plain.headers["cache-control"] == "no-cache"  # an old or missing version
    assert (await anonymous.get(chart_js.group(1).split("?")[0] + "?v=0")).headers[
        "cache-control"
    ] == "no-cache"
    for path in ("/ui/", "/ui/technician", "/ui/visits", "/ui/places", "/ui/schools/new"):
        page = (await anonymous.get(path)).text
        assert "chart.umd" not in page, f"{path} draws no chart: no Chart.js"
    assert "/static/web/site.css?v=" in funder.text
    api = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert api.headers["content-encoding"] == "gzip"


async def test_the_csrf_token_is_masked_anew_in_every_page(anonymous: httpx.AsyncClient) -> None:
    csrf = await log_in(anonymous, ADMIN_TOKEN)
    tokens = [
        re.findall(r'name="csrf_token" value="([^"]+)"', (await anonymous.get("/ui/")).text)[0]
        for _ in range(2)
    ]
    assert tokens[0] != tokens[1], "the same bytes in every response would leak (BREACH)"
    for token in [*tokens, csrf]:
        form = {"csrf_token": token, "name": "A", "municipality": "LV-058"}
        assert (await anonymous.post("/ui/schools/new", data=form)).status_code == 303
    broken = {"csrf_token": tokens[0][:-4] + "AAAA", "name": "A", "municipality": "LV-058"}
    assert (await anonymous.post("/ui/schools/new", data=broken)).status_code == 403
