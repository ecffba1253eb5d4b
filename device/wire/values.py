"""Values checked the way the contract's pydantic fields check them, without pydantic.

The pieces ``device/wire/codec.py`` builds the contract's messages from: numbers within
bounds (NaN and infinity refused, ``3.0`` read as the integer 3 as pydantic does),
strings matching the contract's patterns, aware times, and the compact JSON the models
write. A value the contract would refuse raises ``MessageError`` (reason ``invalid``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from broker.errors import MessageError
from broker.limits import BOOT_ID_MAX_LENGTH, BOOT_ID_PATTERN, INPUT_NAME_PATTERN
from broker.topics import EXHIBIT_ID_PATTERN

_EXHIBIT_ID = re.compile(EXHIBIT_ID_PATTERN)
_INPUT_NAME = re.compile(INPUT_NAME_PATTERN)
_BOOT_ID = re.compile(BOOT_ID_PATTERN)


def invalid(name: str, problem: str) -> MessageError:
    return MessageError("invalid", f"{name}: {problem}")


def number_value(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(name, f"{value!r} is not a number")
    number = float(value)
    if not math.isfinite(number):
        raise invalid(name, "finite number required")
    return number


def float_value(
    name: str,
    value: object,
    *,
    gt: float | None = None,
    ge: float | None = None,
    le: float | None = None,
) -> float:
    number = number_value(name, value)
    if (gt is not None and not number > gt) or (ge is not None and not number >= ge):
        raise invalid(name, f"{number!r} is too small")
    if le is not None and not number <= le:
        raise invalid(name, f"{number!r} is too large")
    return number


def int_value(name: str, value: object, *, ge: int, le: int | None = None) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # 3.0 is the integer 3, as pydantic has it
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(name, f"{value!r} is not an integer")
    if value < ge or (le is not None and value > le):
        raise invalid(name, f"{value!r} is not in [{ge}, {le if le is not None else 'inf'}]")
    return value


def bool_value(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise invalid(name, f"{value!r} is not a boolean")
    return value


def text_value(
    name: str,
    value: object,
    *,
    pattern: re.Pattern[str] | None = None,
    min_length: int = 0,
    max_length: int | None = None,
) -> str:
    if not isinstance(value, str):
        raise invalid(name, f"{value!r} is not a string")
    if len(value) < min_length or (max_length is not None and len(value) > max_length):
        raise invalid(name, f"{value!r} has the wrong length")
    if pattern is not None and not pattern.fullmatch(value):
        raise invalid(name, f"{value!r} does not match {pattern.pattern}")
    return value


def exhibit_id_value(value: object) -> str:
    return text_value("exhibit_id", value, pattern=_EXHIBIT_ID)


def input_name_value(name: str, value: object) -> str:
    return text_value(name, value, pattern=_INPUT_NAME)


def boot_id_value(value: object) -> str:
    return text_value(
        "boot_id", value, pattern=_BOOT_ID, min_length=1, max_length=BOOT_ID_MAX_LENGTH
    )


_REASON = re.compile(r"^[^\x00-\x1f]*$")
MAX_REFUSED = 16
"""As ``broker.messages.Refused``: at most 16, topic filters of 1-256 characters, reasons
of up to 64 without control characters."""


def refused_value(value: Mapping[str, str] | None) -> dict[str, str] | None:
    """The subscriptions the broker refused (topic filter: reason), checked as the contract
    checks them."""
    if value is None:
        return None
    if len(value) > MAX_REFUSED:
        raise invalid("refused_subscriptions", f"{len(value)} refusals, at most {MAX_REFUSED}")
    return {
        text_value("refused_subscriptions", topic, min_length=1, max_length=256): text_value(
            "refused_subscriptions", reason, pattern=_REASON, max_length=64
        )
        for topic, reason in value.items()
    }


def time_value(name: str, value: object) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise invalid(name, f"{value!r} is not an ISO 8601 time") from None
    if not isinstance(value, datetime):
        raise invalid(name, f"{value!r} is not a time")
    if value.tzinfo is None or value.utcoffset() is None:
        raise invalid(name, "a time with its UTC offset is required")
    return value


def format_time(value: datetime) -> str:
    """An aware time as the contract writes it (ISO 8601, UTC as ``Z``)."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def contract_float(value: float) -> str:
    """``value`` as pydantic writes it: the shortest digits that read back as ``value``
    (Python's ``repr`` finds the same ones), laid out as pydantic-core lays them out.

    The two differ in two places only: pydantic writes ``0.00003`` where ``repr`` writes
    ``3e-05`` (a decimal exponent of -5), and never pads an exponent (``1e-7``, not
    ``1e-07``). Positive exponents (from 1e16 up) read the same in both.
    """
    text = repr(value)
    mantissa, exponent_mark, exponent = text.partition("e")
    if not exponent_mark:
        return text
    power = int(exponent)
    if power == -5:
        sign = "-" if mantissa.startswith("-") else ""
        return f"{sign}0.0000{mantissa.lstrip('-').replace('.', '')}"
    return f"{mantissa}e{'+' if power > 0 else '-'}{abs(power)}"


def _laid_out_differently(value: Any) -> bool:
    if isinstance(value, float):
        return "e-" in repr(value)
    if isinstance(value, dict):
        return any(_laid_out_differently(item) for item in value.values())
    if isinstance(value, list | tuple):
        return any(_laid_out_differently(item) for item in value)
    return False


def _encode(value: Any) -> str:
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not JSON")  # as json.dumps(allow_nan=False)
        return contract_float(value)
    if isinstance(value, dict):
        items = (f"{_encode(str(key))}:{_encode(item)}" for key, item in value.items())
        return "{" + ",".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(item) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def compact_json(fields: Mapping[str, Any]) -> str:
    """Compact JSON of ``fields`` in their order, None values left out: byte for byte what
    ``model_dump_json(exclude_none=True)`` writes, floats included (``contract_float``)."""
    present = {key: value for key, value in fields.items() if value is not None}
    if _laid_out_differently(present):  # rare (|x| < 1e-4): the slower, exact way
        return _encode(present)
    return json.dumps(present, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def require_fields(
    raw: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    """Refuse unknown fields and missing required ones, as the contract's models do."""
    known = {"schema_version", *required, *optional}
    extra = [key for key in raw if key not in known]
    if extra:
        raise invalid(extra[0], "extra inputs are not permitted")
    missing = [key for key in required if key not in raw]
    if missing:
        raise invalid(missing[0], "field required")
