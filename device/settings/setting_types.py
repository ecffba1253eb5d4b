"""Setting values: how each is read from code, TOML, JSON or an environment string, and checked.

The agent's settings (``device.settings.config``) and its wiring
(``device.settings.wiring``) are frozen dataclasses whose fields carry a ``Rule`` in their
metadata (``setting(...)``). Reading a
table of raw values against a dataclass (``read_fields``) converts what can be converted
the way the environment needs it (``"17"`` is 17, ``"true"`` is True, a string is a
path), checks the bounds, and reports every problem as a ``Problem`` located the way the
user wrote it (``("inputs", 0, "pin")``). ``device.settings.config_errors`` turns the first one into
the one-line ``ConfigError``.

The standard library does this for the agent so that it imports no pydantic at all
(pydantic-settings and pydantic together cost the agent about 12 MB of RSS, measured on
x86-64); the messages keep pydantic's wording, so they read as they did.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Loc = tuple[str | int, ...]

_TRUE = {"1", "true", "t", "yes", "y", "on"}
_FALSE = {"0", "false", "f", "no", "n", "off"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with the settings: where (as written), what kind, and the message.

    ``kind``: ``missing``, ``extra``, ``value`` (a bad value), ``setting`` (a check that
    spans several settings; ``loc`` is the setting to fix), ``unknown_kind`` and
    ``kind_missing`` (an input's ``kind``).
    """

    loc: Loc
    kind: str
    message: str


class Invalid(ValueError):
    """A value that cannot be used; ``kind`` as in ``Problem``."""

    def __init__(self, message: str, kind: str = "value") -> None:
        super().__init__(message)
        self.kind = kind


class Secret:
    """A password: its value never appears in a repr or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        """The password itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@dataclass(frozen=True, slots=True)
class Rule:
    """What a setting's value must be: a type, and optionally bounds, a pattern, choices."""

    type: type
    gt: float | None = None
    ge: float | None = None
    le: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: tuple[str, ...] | None = None
    optional: bool = False
    """None is a valid value."""
    check: Callable[[Any], Any] | None = None
    """Run on the converted value; returns it (maybe normalised) or raises ValueError."""

    def read(self, value: Any) -> Any:
        """``value`` converted to this rule's type and checked; Invalid if it cannot be."""
        if value is None and self.optional:
            return None
        value = _CONVERT[self.type](value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            self._check_bounds(value)
        if isinstance(value, str):
            self._check_text(value)
        if isinstance(value, Secret):
            self._check_text(value.get_secret_value())
        if self.check is not None:
            try:
                value = self.check(value)
            except ValueError as exc:
                raise Invalid(str(exc)) from None
        return value

    def _check_bounds(self, value: float) -> None:
        if self.gt is not None and not value > self.gt:
            raise Invalid(f"Input should be greater than {_num(self.gt)}")
        if self.ge is not None and not value >= self.ge:
            raise Invalid(f"Input should be greater than or equal to {_num(self.ge)}")
        if self.le is not None and not value <= self.le:
            raise Invalid(f"Input should be less than or equal to {_num(self.le)}")

    def _check_text(self, value: str) -> None:
        if self.choices is not None and value not in self.choices:
            quoted = [repr(choice) for choice in self.choices]
            listed = f"{', '.join(quoted[:-1])} or {quoted[-1]}" if len(quoted) > 1 else quoted[0]
            raise Invalid(f"Input should be {listed}")
        if self.min_length is not None and len(value) < self.min_length:
            raise Invalid(f"String should have at least {_characters(self.min_length)}")
        if self.max_length is not None and len(value) > self.max_length:
            raise Invalid(f"String should have at most {_characters(self.max_length)}")
        if self.pattern is not None and not re.fullmatch(self.pattern, value):
            raise Invalid(f"String should match pattern '{self.pattern}'")


def _characters(count: int) -> str:
    return f"{count} character{'' if count == 1 else 's'}"


def _num(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _to_int(value: Any) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise Invalid(
                "Input should be a valid integer, unable to parse string as an integer"
            ) from None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, float) and math.isfinite(value):
        raise Invalid("Input should be a valid integer, got a number with a fractional part")
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("Input should be a valid integer")
    return value


def _to_float(value: Any) -> float:
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise Invalid(
                "Input should be a valid number, unable to parse string as a number"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Invalid("Input should be a valid number")
    if not math.isfinite(value):
        raise Invalid("Input should be a finite number")
    return float(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        if value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise Invalid("Input should be a valid boolean, unable to interpret input")
    raise Invalid("Input should be a valid boolean")


def _to_str(value: Any) -> str:
    if not isinstance(value, str):
        raise Invalid("Input should be a valid string")
    return value


def _to_path(value: Any) -> Path:
    if isinstance(value, Path):
        return value
    if not isinstance(value, str):
        raise Invalid("Input is not a valid path")
    return Path(value)


def _to_secret(value: Any) -> Secret:
    return value if isinstance(value, Secret) else Secret(_to_str(value))


_CONVERT: dict[type, Callable[[Any], Any]] = {
    int: _to_int,
    float: _to_float,
    bool: _to_bool,
    str: _to_str,
    Path: _to_path,
    Secret: _to_secret,
}

RULE = "rule"
READER = "reader"
Reader = Callable[[Any, Loc], tuple[Any, list[Problem]]]
"""Reads a value at a location; returns it (None if unusable) and its problems."""


def rule(type: type, **bounds: Any) -> dict[str, Any]:
    """Field metadata: the value is checked by ``Rule(type, **bounds)``.

    ``x: float = field(default=60.0, metadata=rule(float, gt=0))``
    """
    return {RULE: Rule(type, **bounds)}


def reader(read: Reader) -> dict[str, Any]:
    """Field metadata: the value (a table or a list of tables) is read by ``read``."""
    return {READER: read}


def read_fields(
    cls: type[Any], raw: Mapping[str, Any], loc: Loc = ()
) -> tuple[dict[str, Any], list[Problem]]:
    """Every field of dataclass ``cls`` read from ``raw``: (values read, problems, in order).

    Keys of ``raw`` that are no field of ``cls`` are problems too; fields left out of
    ``raw`` keep their defaults (a required one is a ``missing`` problem).
    """
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    for spec in dataclasses.fields(cls):
        if spec.name not in raw:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                problems.append(Problem((*loc, spec.name), "missing", "Field required"))
            continue
        if READER in spec.metadata:
            value, found = spec.metadata[READER](raw[spec.name], (*loc, spec.name))
            problems.extend(found)
            if not found:
                values[spec.name] = value
            continue
        try:
            values[spec.name] = spec.metadata[RULE].read(raw[spec.name])
        except Invalid as exc:
            problems.append(Problem((*loc, spec.name), exc.kind, str(exc)))
    known = {spec.name for spec in dataclasses.fields(cls)}
    problems.extend(
        Problem((*loc, key), "extra", "Extra inputs are not permitted")
        for key in raw
        if key not in known
    )
    return values, problems


def current_values(instance: Any) -> dict[str, Any]:
    """The fields of a dataclass instance, as a table ``read_fields`` can read again."""
    return {spec.name: getattr(instance, spec.name) for spec in dataclasses.fields(instance)}
