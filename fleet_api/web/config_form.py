"""The configuration form: rows of inputs, outputs and behaviours to and from a document.

Each row is a few plain fields: a name, a kind (or event and action), the pins (BCM
numbers in the order the kind lists them: ``24, 23`` is a distance sensor's echo and
trigger) and the other settings as ``key=value`` words (``hold_s=2 active_high=false``,
``color=1,0.5,0``). The form only turns text into a document; whether the document is
right is decided by the agent's own checker (:mod:`broker.exhibit_config`), so a mistake
reads on the page as it would on the exhibit. An empty row is no row; every list gets
spare rows to fill in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from broker.config_fields import INPUTS, OUTPUTS

SPARE_ROWS = 2
RULE_KEYS = ("input", "event", "output", "action")


def pin_fields(table: Mapping[str, Mapping[str, Any]], kind: str) -> list[str]:
    """The pin settings of ``kind``, in order (empty for an unknown kind)."""
    return [name for name in table.get(kind, {}) if name.endswith("pin")]


def _value(text: str) -> Any:
    """``key=value`` value: a number, true/false, a list of numbers, else the text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if "," in text:
        return [_value(part) for part in text.split(",")]
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def _options(text: str) -> dict[str, Any]:
    """``hold_s=2 active_high=false`` as a table; a word without ``=`` is kept as a key with
    an empty value, so the checker names it."""
    found: dict[str, Any] = {}
    for word in text.split():
        key, _, value = word.partition("=")
        found[key] = _value(value) if value else ""
    return found


def _options_text(part: Mapping[str, Any], skip: set[str]) -> str:
    words = []
    for key, value in part.items():
        if key in skip:
            continue
        if isinstance(value, bool):
            shown = "true" if value else "false"
        elif isinstance(value, list):
            shown = ",".join(str(v) for v in value)
        else:
            shown = str(value)
        words.append(f"{key}={shown}")
    return " ".join(words)


def _part(form: Mapping[str, str], prefix: str, table: Mapping[str, Any]) -> dict[str, Any] | None:
    name, kind = form.get(f"{prefix}.name", "").strip(), form.get(f"{prefix}.kind", "").strip()
    pins_text = form.get(f"{prefix}.pins", "").strip()
    options = form.get(f"{prefix}.options", "").strip()
    if not (name or pins_text or options):
        return None
    part: dict[str, Any] = {"name": name, "kind": kind}
    pins = [p.strip() for p in pins_text.split(",") if p.strip()]
    fields = pin_fields(table, kind) or [f"pin{i}" for i in range(len(pins))]
    for field, text in zip(fields, pins, strict=False):
        part[field] = _value(text)
    part.update(_options(options))
    return part


def _rows(form: Mapping[str, str], key: str) -> list[str]:
    """The row prefixes of list ``key`` in the form, in order (``inputs.0``, ``inputs.1``...)."""
    indices = sorted(
        {
            int(name.split(".")[1])
            for name in form
            if name.startswith(f"{key}.") and name.split(".")[1].isdigit()
        }
    )
    return [f"{key}.{index}" for index in indices]


def document_of(form: Mapping[str, str]) -> dict[str, Any]:
    """The document the form's rows describe (not yet checked)."""
    document: dict[str, Any] = {"inputs": [], "outputs": [], "behaviours": []}
    for key, table in (("inputs", INPUTS), ("outputs", OUTPUTS)):
        for prefix in _rows(form, key):
            part = _part(form, prefix, table)
            if part is not None:
                document[key].append(part)
    for prefix in _rows(form, "behaviours"):
        rule = {k: form.get(f"{prefix}.{k}", "").strip() for k in RULE_KEYS}
        options = form.get(f"{prefix}.options", "").strip()
        if any(rule.values()) or options:
            document["behaviours"].append({**rule, **_options(options)})
    idle = form.get("attract.idle_s", "").strip()
    action = {k: form.get(f"attract.{k}", "").strip() for k in ("output", "action")}
    if idle or any(action.values()):
        more = _options(form.get("attract.options", ""))
        document["attract"] = {"idle_s": _value(idle), "actions": [{**action, **more}]}
    start, end = form.get("quiet.start", "").strip(), form.get("quiet.end", "").strip()
    if start or end:
        document["quiet_hours"] = {"start": start, "end": end}
    for key in ("bucket_seconds", "session_idle_s"):
        text = form.get(key, "").strip()
        if text:
            document[key] = _value(text)
    return document


def rows_of(document: Mapping[str, Any]) -> dict[str, Any]:
    """What the form shows for ``document``: each list's rows plus spare ones."""

    def parts(key: str, table: Mapping[str, Any]) -> list[dict[str, str]]:
        shown = []
        for part in document.get(key, []):
            pins = pin_fields(table, str(part.get("kind", "")))
            shown.append(
                {
                    "name": str(part.get("name", "")),
                    "kind": str(part.get("kind", "")),
                    "pins": ", ".join(str(part[p]) for p in pins if p in part),
                    "options": _options_text(part, {"name", "kind", *pins}),
                }
            )
        return shown + [{"name": "", "kind": "", "pins": "", "options": ""}] * SPARE_ROWS

    rules = [
        {
            **{k: str(rule.get(k, "")) for k in RULE_KEYS},
            "options": _options_text(rule, set(RULE_KEYS)),
        }
        for rule in document.get("behaviours", [])
    ]
    rules += [dict.fromkeys((*RULE_KEYS, "options"), "")] * SPARE_ROWS
    attract = document.get("attract") or {}
    first = (attract.get("actions") or [{}])[0]
    quiet = document.get("quiet_hours") or {}
    return {
        "inputs": parts("inputs", INPUTS),
        "outputs": parts("outputs", OUTPUTS),
        "behaviours": rules,
        "attract": {
            "idle_s": str(attract.get("idle_s", "")),
            "output": str(first.get("output", "")),
            "action": str(first.get("action", "")),
            "options": _options_text(first, {"output", "action"}),
        },
        "quiet": {"start": str(quiet.get("start", "")), "end": str(quiet.get("end", ""))},
        "bucket_seconds": str(document.get("bucket_seconds", "")),
        "session_idle_s": str(document.get("session_idle_s", "")),
    }
