"""The exhibit's outputs and behaviours in the agent's settings, checked like a pushed one.

``outputs``, ``behaviours``, ``attract`` and ``quiet_hours`` (TOML tables, or JSON in
``EXHIBIT_OUTPUTS`` and the like) are read as plain lists and tables here, then judged
together with the inputs by the fleet's own checker, ``broker.exhibit_config``: what the
agent refuses at start (one line naming the setting, exit 2) is what the fleet's API and
pages refuse, in the same words. Their meaning is in ``docs/controller.md``; the
standard library only, like the rest of the agent's settings.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from broker.exhibit_config import problems
from device.settings.setting_types import Loc, Problem
from device.settings.wiring import InputSpec

CONTROL_FIELDS = ("outputs", "behaviours", "attract", "quiet_hours")
"""The settings that drive outputs; none of them changes what is counted."""


def read_parts(value: Any, loc: Loc) -> tuple[list[dict[str, Any]] | None, list[Problem]]:
    """A list of tables (outputs or behaviours); their fields are judged with the inputs."""
    if not isinstance(value, list | tuple) or not all(isinstance(v, Mapping) for v in value):
        return None, [Problem(loc, "value", "Input should be a valid list of tables")]
    return [dict(v) for v in value], []


def read_table(value: Any, loc: Loc) -> tuple[dict[str, Any] | None, list[Problem]]:
    """A table (attract mode, quiet hours), or None."""
    if value is None:
        return None, []
    if not isinstance(value, Mapping):
        return None, [Problem(loc, "value", "Input should be a valid table")]
    return dict(value), []


def input_table(spec: InputSpec) -> dict[str, Any]:
    """An input as the document spells it (settings left unset are left out)."""
    return {k: v for k, v in dataclasses.asdict(spec).items() if v is not None}


def document(values: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs, outputs and behaviours of ``values`` as one document."""
    found: dict[str, Any] = {"inputs": [input_table(spec) for spec in values.get("inputs", [])]}
    for name in CONTROL_FIELDS:
        if values.get(name):
            found[name] = values[name]
    return found


def control_problem(values: Mapping[str, Any]) -> Problem | None:
    """The first mistake in the outputs and behaviours (or in how they use the inputs)."""
    if not any(values.get(name) for name in CONTROL_FIELDS):
        return None
    found = problems(document(values))
    if not found:
        return None
    return Problem(found[0].loc, "value", found[0].message)
