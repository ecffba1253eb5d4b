"""Seeded scripted visitors: who touches which input of which exhibit, and when.

A script is a pure function of its seed, so a run can be repeated exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Touch:
    """One intended interaction: ``at`` seconds after the run starts, on an exhibit's input."""

    at: float
    exhibit_id: str
    input: str


def script(
    *,
    seed: int,
    exhibit_inputs: dict[str, list[str]],
    duration_s: float,
    mean_gap_s: float = 1.0,
    min_gap_s: float = 0.4,
) -> list[Touch]:
    """Touches for every exhibit over ``duration_s``, at least ``min_gap_s`` apart per exhibit.

    Gaps are exponential (visitors arrive at random) but never shorter than ``min_gap_s``;
    a touch that is not over yet when the next one is due delays it (one hand per exhibit).
    """
    rng = random.Random(seed)  # noqa: S311 - a repeatable script, not a secret
    touches: list[Touch] = []
    for exhibit_id in sorted(exhibit_inputs):
        inputs = exhibit_inputs[exhibit_id]
        t = rng.uniform(0, mean_gap_s)
        while t < duration_s:
            touches.append(Touch(round(t, 3), exhibit_id, rng.choice(inputs)))
            t += max(min_gap_s, rng.expovariate(1 / mean_gap_s))
    touches.sort(key=lambda touch: (touch.at, touch.exhibit_id))
    return touches
