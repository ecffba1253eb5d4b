"""Field types shared by the API models.

Every rule a type enforces is stated in its JSON schema too (the OpenAPI document), so a
client generated from the schema, or schemathesis, sends nothing valid that the API
refuses and nothing invalid that it accepts:

- text (:class:`TextRules`): no control characters (NUL included: PostgreSQL's text refuses
  it), surrounding whitespace removed, and not blank; the length counts what is left,
  so the pattern states the length too;
- date-times (:data:`UtcDatetime`): RFC 3339 (ISO 8601 with seconds and an offset) and
  nothing else, never a bare number read as seconds since 1970;
- updates: a field that may be left out but not cleared is not nullable
  (:func:`not_null`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    Strict,
)
from pydantic_core import core_schema

from broker.messages import ExhibitId as ExhibitId

CONTROLS = r"\x00-\x1f\x7f-\x9f"
"""Unicode's control characters (category Cc): C0, DEL and C1."""
_LINE_CONTROLS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
"""The same but tab, line feed and carriage return."""
SURROGATES = r"\ud800-\udfff"
"""Lone surrogates: JSON can carry them (``\\ud800``), no database text can store them.
Refused too, but not in the schema's pattern: they are no Unicode characters, so no
UTF-8 client can send them and regex engines that follow Unicode (Rust's, which
schemathesis validates with) refuse a pattern naming them."""


@dataclass(frozen=True, slots=True)
class TextRules:
    """Marks a text type (``Annotated[str, TextRules(200)]``): surrounding whitespace
    removed, then ``min_length``-``max_length`` characters, no control characters
    (``multiline``: tabs and line breaks allowed)."""

    max_length: int
    min_length: int = 1
    multiline: bool = False

    @property
    def pattern(self) -> str:
        """The same rules as a regular expression, for the JSON schema."""
        controls = _LINE_CONTROLS if self.multiline else CONTROLS
        allowed = f"[^{controls}]"
        edge = f"[^\\S{controls}]*"  # whitespace, removed; never a forbidden character
        solid = f"[^\\s{CONTROLS}]"
        body = f"{solid}(?:{allowed}{{0,{self.max_length - 2}}}{solid})?"
        if self.min_length == 0:
            body = f"(?:{body})?"
        return f"^{edge}{body}{edge}$"

    def check(self, value: str) -> str:
        """``value`` without surrounding whitespace; ValueError naming the broken rule."""
        # The pattern's `$` lets one final line feed through (Python's re, which
        # schemathesis and jsonschema use); it is whitespace, removed with the rest.
        inner = value[:-1] if value.endswith("\n") else value
        controls = _LINE_CONTROLS if self.multiline else CONTROLS
        if (found := re.search(f"[{controls}{SURROGATES}]", inner)) is not None:
            raise ValueError(
                f"U+{ord(found.group()):04X} at position {found.start()}: text may not "
                "contain control characters or lone surrogates"
            )
        stripped = value.strip()
        if len(stripped) < self.min_length:
            raise ValueError("may not be blank")
        if len(stripped) > self.max_length:
            raise ValueError(
                f"at most {self.max_length} characters (without surrounding whitespace)"
            )
        return stripped

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> dict[str, Any]:
        return {"type": "string", "pattern": self.pattern}


Text200 = Annotated[str, TextRules(200)]
"""A name: 1-200 characters once surrounding whitespace is removed, on one line."""

Notes = Annotated[str, TextRules(4000, min_length=0, multiline=True)]
"""Free text of up to 4000 characters; tabs and line breaks allowed."""

RFC3339 = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_RFC3339 = re.compile(RFC3339)


def _strict_datetime(value: object) -> object:
    if isinstance(value, datetime):  # from Python, not from the wire
        return value
    if not isinstance(value, str) or _RFC3339.search(value) is None:
        raise ValueError(
            "a date-time must be RFC 3339 (ISO 8601 with seconds and an offset), "
            "e.g. 2026-05-04T09:30:00+03:00 or 2026-05-04T06:30:00Z"
        )
    return value


def _no_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number, not true or false")
    return value


Number = BeforeValidator(_no_bool)
"""For a number in a body: true and false are not 1 and 0 (pydantic's lax mode reads them
so; the schema says integer or number)."""


Flag = Annotated[bool, Strict()]
"""A true/false in a body: 0, 1, "yes" and "no" are no booleans (pydantic's lax mode
reads them so; the schema says boolean)."""


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before year 1 in UTC
        raise ValueError("out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_strict_datetime), AfterValidator(_to_utc)]
"""An RFC 3339 date-time with an offset (naive ones, and numbers, are a 422), in UTC."""

ID_MAX = 2**53 - 1
"""The largest id or offset the API takes: the largest integer every JSON client reads
exactly (JavaScript's numbers, schemathesis' validator). A bound of 2**63 - 1 reads as
2**63 in a double, so such clients took 2**63 + 191 for valid input."""

DbId = Annotated[int, Field(ge=1, le=ID_MAX), Number]
"""A database id: positive and exact in every JSON client (within 64 bits, too)."""


def not_null(description: str | None = None) -> Any:
    """A field of an update that may be left out but not set to null: its schema says so
    (the model's validator refuses the null, :func:`refuse_null`)."""

    def drop_null(schema: dict[str, Any]) -> None:
        options = [option for option in schema.pop("anyOf", []) if option.get("type") != "null"]
        if len(options) == 1:
            schema.update(options[0])
        elif options:
            schema["anyOf"] = options
        schema.pop("default", None)

    return Field(default=None, description=description, json_schema_extra=drop_null)


def refuse_null(model: BaseModel, required: Iterable[str]) -> None:
    """ValueError naming the ``required`` fields an update sets to null explicitly."""
    cleared = sorted(
        name for name in required if name in model.model_fields_set and getattr(model, name) is None
    )
    if cleared:
        raise ValueError(f"{', '.join(cleared)} cannot be null")
