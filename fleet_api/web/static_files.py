"""Static files with versioned URLs: cached for a year when the URL names the content.

Templates link ``{{ static("web/site.css") }}`` = ``/static/web/site.css?v=<hash>``, the
hash of the file's bytes. A request carrying the current hash is answered with
``Cache-Control: public, max-age=31536000, immutable`` (a phone on a school's network
keeps it); any other (an old hash, none) with ``no-cache``, so a new release is seen at
once. Responses are compressed by the app's GZip middleware.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from fleet_api.web.rendering import STATIC

YEAR = 365 * 24 * 3600


@lru_cache(maxsize=256)
def version_of(path: str) -> str:
    """The first 12 hex digits of the SHA-256 of ``static/<path>`` ("" if there is none)."""
    file = (STATIC / path).resolve()
    if STATIC.resolve() not in file.parents or not file.is_file():
        return ""
    return hashlib.sha256(file.read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    """The versioned URL of ``static/<path>``."""
    return f"/static/{path}?v={version_of(path)}"


class VersionedStatic(StaticFiles):
    """StaticFiles that lets browsers keep a file as long as its URL names its content."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        """The file, with the cache lifetime its URL earns."""
        response = await super().get_response(path, scope)
        wanted = parse_qs(scope.get("query_string", b"").decode()).get("v")
        current = version_of(Path(path).as_posix())
        if response.status_code in (200, 304) and current and wanted == [current]:
            response.headers["Cache-Control"] = f"public, max-age={YEAR}, immutable"
        else:
            response.headers["Cache-Control"] = "no-cache"
        return response
