"""Jinja2 for the staff pages: one environment per language, with the gettext catalog
of that language installed (``{% trans %}`` and ``_()`` in templates), autoescaping on.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from fleet_api.web.i18n import LANGUAGES, translations

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
STATIC = Path(__file__).resolve().parent.parent / "static"

# No inline scripts or styles anywhere in the pages: chart data travels as JSON in
# <script type="application/json">, which is not executed.
_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)


def secure_headers() -> dict[str, str]:
    """Headers of every page: a strict CSP, no framing, no caching of personal data."""
    return {
        "Content-Security-Policy": _CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


@lru_cache(maxsize=len(LANGUAGES))
def environment(language: str) -> Environment:
    """The template environment of ``language``."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Added by the i18n extension, so not in Environment's type.
    env.install_gettext_translations(  # type: ignore[attr-defined]
        translations(language), newstyle=True
    )
    env.globals["LANGUAGES"] = list(LANGUAGES)
    # Imported here: static_files imports STATIC from this module.
    from fleet_api.web.static_files import static_url

    env.globals["static"] = static_url
    return env
