"""Reading HTML form fields into model data, and model errors back into form messages."""

from __future__ import annotations

from datetime import datetime, tzinfo

from pydantic import ValidationError

from fleet_api.web.page import Page


def optional_text(value: str) -> str | None:
    """An empty field is no value."""
    return value or None


def optional_int(value: str) -> int | str | None:
    """A whole number, or None when empty; anything else is left for validation to refuse."""
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return value


def parse_local(value: str, zone: tzinfo) -> datetime | None:
    """A ``datetime-local`` field (``2026-11-23T09:00``) in the display time zone."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        return None
    if naive.tzinfo is not None:
        return None
    return naive.replace(tzinfo=zone)


def field_errors(
    page: Page, exc: ValidationError, *, model_check: str | None = None
) -> dict[str, str]:
    """One message per form field from a model's validation error, in the page's language.

    An error of the model as a whole goes under ``form``, said as ``model_check``.
    """
    errors: dict[str, str] = {}
    for error in exc.errors():
        location = error.get("loc", ())
        if not location:
            errors.setdefault("form", model_check or page.gettext("This form is not valid."))
            continue
        name = str(location[0])
        errors.setdefault(name, _message(page, error["type"], name))
    return errors


def _message(page: Page, kind: str, name: str) -> str:
    if kind in ("missing", "string_too_short") or (kind == "too_short" and name != "exhibit_ids"):
        return page.gettext("This field is required.")
    if kind == "too_short":
        return page.gettext("Choose at least one exhibit.")
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return page.gettext("Enter a whole number.")
    if kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
        return page.gettext("This number is out of range.")
    if kind == "string_too_long":
        return page.gettext("This text is too long.")
    return page.gettext("This value is not valid.")
