"""An exhibit's configuration as the fleet pushes it: inputs, outputs, behaviours.

One checker for both ends, in the standard library: the fleet's API and pages refuse a
document with the same rules, and the same one-line reasons, as the agent that receives
it (the agent imports no pydantic; ``broker`` is the one package both may import). The
fields live in ``broker.config_fields``.

A document (JSON object)::

    {"inputs": [{"name": "button", "kind": "button", "pin": 17}],
     "outputs": [{"name": "lamp", "kind": "led", "pin": 5}],
     "behaviours": [{"input": "button", "event": "press",
                     "output": "lamp", "action": "on", "seconds": 5}],
     "attract": {"idle_s": 120, "actions": [{"output": "lamp", "action": "blink"}]},
     "quiet_hours": {"start": "18:00", "end": "08:00"},
     "bucket_seconds": 60, "session_idle_s": 30}

``problems(document)`` lists every mistake, located as written (``("outputs", 0, "pin")``);
``describe()`` turns the first into one line naming the setting and the fix.
``config_hash(document)`` is what the agent reports in its status once it runs it.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from broker.config_fields import (
    ACTION_FIELDS,
    ACTIONS,
    ATTRACT_FIELDS,
    EVENTS,
    INPUTS,
    NAME,
    OUTPUTS,
    QUIET_FIELDS,
    REQUIRED_BY_ACTION,
    RULE_FIELDS,
    TOP_FIELDS,
    Spec,
)

Loc = tuple[str | int, ...]
MAX_CONFIG_BYTES = 64 * 1024
"""Largest document (its canonical JSON); far above any exhibit's wiring."""
MAX_PARTS = {"inputs": 32, "outputs": 32, "behaviours": 200, "actions": 32}
"""Most entries of each list: a Pi has 28 GPIOs."""
_COUNT_SUFFIXES = {"button": ("", "_hold"), "rotary": ("_cw", "_ccw")}


@dataclass(frozen=True, slots=True)
class Problem:
    """One mistake: where (as written) and what, with the fix when there is one."""

    loc: Loc
    message: str

    @property
    def setting(self) -> str:
        """``outputs[0].pin``: the setting as a person writes it."""
        head = str(self.loc[0]) if self.loc else "config"
        return head + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in self.loc[1:])


def canonical(document: Mapping[str, Any]) -> bytes:
    """The document's one JSON spelling: sorted keys, no spaces (what is hashed)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()


def config_hash(document: Mapping[str, Any]) -> str:
    """16 hex digits of SHA-256 over the canonical JSON: the hash an agent reports."""
    return hashlib.sha256(canonical(document)).hexdigest()[:16]


def count_names(document: Mapping[str, Any]) -> list[str]:
    """The names a valid document's inputs count under, in order (``button_hold``,
    ``knob_cw``...): what the agent reports at birth."""
    names: list[str] = []
    for part in document.get("inputs", []):
        suffixes = _COUNT_SUFFIXES.get(part["kind"], ("",))
        if part["kind"] == "button" and "hold_s" not in part:
            suffixes = ("",)
        names += [part["name"] + suffix for suffix in suffixes]
    return names


def describe(found: Sequence[Problem]) -> str:
    """The first problem as one line, and how many more there are."""
    first = found[0]
    more = len(found) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return f"setting {first.setting}: {first.message}{suffix}"


def problems(document: Any) -> list[Problem]:
    """Every mistake in ``document``, in reading order; empty when it can be applied."""
    if not isinstance(document, dict):
        return [Problem((), "the configuration must be a JSON object")]
    try:
        size = len(canonical(document))
    except (TypeError, ValueError) as exc:
        return [Problem((), f"not JSON ({exc})")]
    if size > MAX_CONFIG_BYTES:
        return [Problem((), f"{size} bytes is more than {MAX_CONFIG_BYTES}; shorten it")]
    found = list(_fields(document, TOP_FIELDS, ()))
    if found:
        return found
    inputs = _parts(document, "inputs", INPUTS, found)
    outputs = _parts(document, "outputs", OUTPUTS, found)
    if found:
        return found
    found += _names_and_pins(inputs, outputs)
    found += _outputs(outputs)
    for index, rule in enumerate(document.get("behaviours", [])):
        found += _rule(rule, ("behaviours", index), inputs, outputs)
    if "attract" in document:
        found += _attract(document["attract"], outputs)
    if "quiet_hours" in document:
        found += list(_fields(document["quiet_hours"], QUIET_FIELDS, ("quiet_hours",)))
        hours = document["quiet_hours"]
        if not found and hours["start"] == hours["end"]:
            found.append(Problem(("quiet_hours", "end"), "equals start; give another time"))
    if len(document.get("behaviours", [])) > MAX_PARTS["behaviours"]:
        found.append(Problem(("behaviours",), f"more than {MAX_PARTS['behaviours']} rules"))
    return found


def _fields(value: Any, table: Mapping[str, Spec], loc: Loc) -> Iterator[Problem]:
    if not isinstance(value, dict):
        yield Problem(loc, "must be a table (a JSON object)")
        return
    for name, spec in table.items():
        if name not in value:
            if spec.required:
                yield Problem((*loc, name), _with_fix("is required", spec))
            continue
        message = _bad_value(value[name], spec)
        if message:
            yield Problem((*loc, name), _with_fix(message, spec))
    for name in value:
        if name not in table:
            yield Problem((*loc, name), "is not a setting here (misspelt?)")


def _with_fix(message: str, spec: Spec) -> str:
    return f"{message}; {spec.fix}" if spec.fix else message


def _bad_value(value: Any, spec: Spec) -> str | None:
    """Why ``value`` does not fit ``spec``, or None."""
    if spec.type is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        if not math.isfinite(value):
            return "must be a finite number"
    elif spec.type is int:
        whole = isinstance(value, int) or (isinstance(value, float) and value.is_integer())
        if isinstance(value, bool) or not whole:
            return "must be a whole number"
    elif not isinstance(value, spec.type) or (spec.type is int and isinstance(value, bool)):
        return f"must be {_TYPE_NAMES[spec.type]}"
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.gt is not None and not value > spec.gt:
            return f"{value} is not above {spec.gt:g}"
        if spec.ge is not None and not value >= spec.ge:
            return f"{value} is below {spec.ge:g}"
        if spec.le is not None and not value <= spec.le:
            return f"{value} is above {spec.le:g}"
    if isinstance(value, str):
        if spec.choices is not None and value not in spec.choices:
            return f"{value!r} is not one of {', '.join(spec.choices)}"
        if spec.pattern is not None and not re.fullmatch(spec.pattern, value):
            return f"{value!r} is not allowed"
    return None


_TYPE_NAMES = {str: "text", bool: "true or false", list: "a list", dict: "a table"}


def _parts(
    document: Mapping[str, Any],
    key: str,
    table: Mapping[str, Mapping[str, Spec]],
    found: list[Problem],
) -> list[dict[str, Any]]:
    """The inputs or outputs, each checked against its kind's fields."""
    parts = document.get(key, [])
    if len(parts) > MAX_PARTS[key]:
        found.append(Problem((key,), f"more than {MAX_PARTS[key]} {key}"))
        return []
    for index, part in enumerate(parts):
        loc: Loc = (key, index)
        if not isinstance(part, dict):
            found.append(Problem(loc, "must be a table (a JSON object)"))
            continue
        kind = part.get("kind")
        if not isinstance(kind, str) or kind not in table:
            found.append(Problem((*loc, "kind"), f"{kind!r} is not one of {', '.join(table)}"))
            continue
        fields = {"name": NAME, "kind": Spec(str, required=True), **table[kind]}
        found.extend(_fields(part, fields, loc))
    return [part for part in parts if isinstance(part, dict)]


def _pins(part: Mapping[str, Any]) -> dict[str, int]:
    return {key: value for key, value in part.items() if key.endswith("pin")}


def _names_and_pins(inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]) -> list[Problem]:
    names: dict[str, str] = {}
    pins: dict[int, str] = {}
    for key, parts in (("inputs", inputs), ("outputs", outputs)):
        for index, part in enumerate(parts):
            suffixes = _COUNT_SUFFIXES.get(part["kind"], ("",)) if key == "inputs" else ("",)
            if part["kind"] == "button" and "hold_s" not in part:
                suffixes = ("",)
            for suffix in suffixes:
                name = part["name"] + suffix
                if len(name) > 32:
                    return [
                        Problem((key, index, "name"), f"counts as {name!r}, over 32 characters")
                    ]
                if name in names:
                    return [Problem((key, index, "name"), f"{name!r} is used twice; rename one")]
                names[name] = part["name"]
            for role, number in _pins(part).items():
                if number in pins:
                    message = f"pin {number} is used by both {pins[number]!r} and {part['name']!r}"
                    return [Problem((key, index, role), message + "; wire each to its own pin")]
                pins[number] = part["name"]
    return []


def _outputs(outputs: list[dict[str, Any]]) -> list[Problem]:
    found: list[Problem] = []
    for index, part in enumerate(outputs):
        if part["kind"] == "servo":
            low, high = part.get("min_angle", -90.0), part.get("max_angle", 90.0)
            if not low < high:
                found.append(Problem(("outputs", index, "max_angle"), "must be above min_angle"))
            elif not low <= part.get("safe_angle", (low + high) / 2) <= high:
                found.append(
                    Problem(("outputs", index, "safe_angle"), f"must lie in {low:g}..{high:g}")
                )
    return found


def _rule(
    rule: Any, loc: Loc, inputs: list[dict[str, Any]], outputs: list[dict[str, Any]]
) -> list[Problem]:
    found = list(_fields(rule, RULE_FIELDS, loc))
    if found:
        return found
    source = next((part for part in inputs if part["name"] == rule["input"]), None)
    if source is None:
        names = ", ".join(part["name"] for part in inputs) or "none"
        return [Problem((*loc, "input"), f"no input is called {rule['input']!r} (inputs: {names})")]
    kinds = EVENTS[rule["event"]]
    if source["kind"] not in kinds:
        events = [event for event, allowed in EVENTS.items() if source["kind"] in allowed]
        return [
            Problem(
                (*loc, "event"),
                f"a {source['kind']} input has no {rule['event']!r} event; use "
                + (" or ".join(events) or "another input: it drives no behaviour"),
            )
        ]
    if rule["event"] == "hold" and "hold_s" not in source:
        return [Problem((*loc, "event"), f"input {source['name']!r} has no hold_s; set it")]
    if "direction" in rule and rule["event"] != "rotation":
        return [Problem((*loc, "direction"), "only a rotation has a direction; remove it")]
    rest = {k: v for k, v in rule.items() if k not in ("input", "event", "direction")}
    return _action(rest, loc, outputs)


def _action(action: Mapping[str, Any], loc: Loc, outputs: list[dict[str, Any]]) -> list[Problem]:
    """One action (``output``, ``action`` and its fields), already type-checked."""
    target = next((part for part in outputs if part["name"] == action["output"]), None)
    if target is None:
        names = ", ".join(part["name"] for part in outputs) or "none"
        return [
            Problem(
                (*loc, "output"), f"no output is called {action['output']!r} (outputs: {names})"
            )
        ]
    verb = action["action"]
    kind = target["kind"]
    if kind not in ACTIONS[verb]:
        verbs = [name for name, kinds in ACTIONS.items() if kind in kinds]
        return [Problem((*loc, "action"), f"a {kind} cannot {verb!r}; use {' or '.join(verbs)}")]
    for key in action:
        if key not in ("output", "action", *ACTION_FIELDS[verb]):
            return [Problem((*loc, key), f"{verb!r} takes no {key}; remove it")]
    needed = REQUIRED_BY_ACTION.get(verb)
    if needed is not None and needed not in action:
        return [Problem((*loc, needed), f"{verb!r} needs {needed}")]
    return _action_values(action, loc, target)


def _action_values(action: Mapping[str, Any], loc: Loc, target: Mapping[str, Any]) -> list[Problem]:
    kind = target["kind"]
    if "color" in action:
        color = action["color"]
        if kind != "rgbled":
            return [Problem((*loc, "color"), f"a {kind} has no colour; remove it")]
        if len(color) != 3 or any(_bad_value(c, RULE_FIELDS["value"]) for c in color):
            return [Problem((*loc, "color"), "use [red, green, blue], each from 0 to 1")]
    if "value" in action and kind not in ("pwmled",):
        return [Problem((*loc, "value"), f"a {kind} has no brightness; remove it")]
    if "angle" in action:
        low, high = target.get("min_angle", -90.0), target.get("max_angle", 90.0)
        if not low <= action["angle"] <= high:
            return [Problem((*loc, "angle"), f"{action['angle']:g} is outside {low:g}..{high:g}")]
    if "frequency_hz" in action:
        octaves = target.get("octaves", 1)
        low, high = 440.0 / 2**octaves, 440.0 * 2**octaves
        if not low <= action["frequency_hz"] <= high:
            message = f"{action['frequency_hz']:g} Hz is outside {low:g}..{high:g} Hz"
            return [Problem((*loc, "frequency_hz"), f"{message} (raise octaves)")]
    return []


def _attract(attract: Any, outputs: list[dict[str, Any]]) -> list[Problem]:
    found = list(_fields(attract, ATTRACT_FIELDS, ("attract",)))
    if found:
        return found
    if len(attract["actions"]) > MAX_PARTS["actions"]:
        return [Problem(("attract", "actions"), f"more than {MAX_PARTS['actions']} actions")]
    fields = {k: v for k, v in RULE_FIELDS.items() if k not in ("input", "event", "direction")}
    for index, action in enumerate(attract["actions"]):
        loc: Loc = ("attract", "actions", index)
        found = list(_fields(action, fields, loc)) or _action(action, loc, outputs)
        if found:
            return found
    return []
