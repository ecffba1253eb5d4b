"""Chart data for the pages: plain JSON that ``static/web/charts.js`` hands to Chart.js.

A chart travels in the page as ``<script type="application/json">`` next to its canvas
(no inline script, so the pages keep a strict Content-Security-Policy), and the same
numbers are in a table beside it, for screen readers and for anyone who prefers one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

ChartKind = Literal["bar", "line"]


def chart(
    kind: ChartKind,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | int | None]]],
    *,
    x_title: str,
    y_title: str,
    horizontal: bool = False,
) -> dict[str, Any]:
    """A chart: ``series`` is ``(label, values)``, one value per label."""
    for name, values in series:
        if len(values) != len(labels):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(labels)} labels")
    return {
        "type": kind,
        "labels": list(labels),
        "datasets": [{"label": name, "data": list(values)} for name, values in series],
        "x_title": x_title,
        "y_title": y_title,
        "horizontal": horizontal,
    }
