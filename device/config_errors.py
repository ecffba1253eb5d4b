"""One line per configuration mistake: which setting, where it comes from, and the fix.

pydantic reports *where* a value failed (``inputs.0.button.pin``) and *what* failed; the
agent's user needs the setting's name as they wrote it (``inputs[0].pin``), the
environment variable that sets it (``EXHIBIT_INPUTS``) and how to fix it. Checks that
span several settings raise ``setting_error()``, which carries its setting's name.
"""

from __future__ import annotations

from collections.abc import Set

from pydantic import ValidationError
from pydantic_core import PydanticCustomError

ENV_PREFIX = "EXHIBIT_"
INPUTS_EXAMPLE = '[{"name": "button", "kind": "button", "pin": 17}]'
_KINDS = "button, motion, distance, line, beam or rotary"
_SETTING_ERROR = "agent_setting"

# How to fix a setting when pydantic's own message does not say it: by the innermost
# name (fields of an input or of the indicator), then by the top-level setting.
_INNER_FIXES: dict[str, str] = {
    "name": "input names are lowercase letters, digits and _, starting with a letter",
    "kind": f"use {_KINDS}",
    "pin": "use the BCM GPIO number 0-27 it is wired to, e.g. 17",
    "echo_pin": "use the BCM GPIO number 0-27 of the sensor's ECHO, e.g. 24",
    "trigger_pin": "use the BCM GPIO number 0-27 of the sensor's TRIG, e.g. 23",
    "a_pin": "use the BCM GPIO number 0-27 of the encoder's A pin, e.g. 20",
    "b_pin": "use the BCM GPIO number 0-27 of the encoder's B pin, e.g. 21",
    "debounce_s": "use seconds between 0 and 10, e.g. 0.05",
    "hold_s": "use seconds above 0, at most 60, e.g. 2",
    "sample_rate_hz": "use readings per second between 0 and 1000, e.g. 10",
    "threshold_m": "use metres above 0, at most 4, e.g. 0.5",
    "max_distance_m": "use metres above 0, at most 4, e.g. 2",
    "queue_len": "use 1-30 readings, e.g. 5",
    "count_on": "use line or no_line",
    "steps_per_interaction": "use 1-1000 steps, e.g. 5",
}
_FIXES: dict[str, str] = {
    "exhibit_id": "set it to this exhibit's id, e.g. exhibit-001",
    "broker_url": "use mqtts://host:8883, wss://host:443/mqtt or mqtt://host:1883",
    "inputs": f"give a JSON list like {INPUTS_EXAMPLE}",
    "indicator": 'give a JSON table like {"pin": 27}',
    "data_dir": "give a writable directory, e.g. /var/lib/exhibit-agent",
    "bucket_seconds": "use seconds between 0 and 86400, e.g. 60",
    "session_idle_s": "use seconds between 0 and 3600, e.g. 30",
    "outbox_max_records": "use 100-10000000, e.g. 50000",
    "inflight_window": "use 1-1000, e.g. 100",
    "batch_max_records": "use 1-1000, e.g. 500",
    "heartbeat_seconds": "use a positive number of seconds, e.g. 60",
    "keepalive_s": "use 5-300 seconds, e.g. 30",
    "reconnect_min_s": "use a positive number of seconds, e.g. 0.5",
    "reconnect_max_s": "use seconds at least reconnect_min_s, e.g. 60",
    "mqtt_protocol": "use auto, 5 or 3.1.1",
}
_KIND_TAGS = {"button", "motion", "distance", "line", "beam", "rotary"}


def setting_error(setting: str, message: str) -> PydanticCustomError:
    """An error for a check spanning several settings, naming the one to fix."""
    return PydanticCustomError(
        _SETTING_ERROR, "{message}", {"setting": setting, "message": message}
    )


def _setting_name(loc: tuple[int | str, ...]) -> str:
    head = str(loc[0]) if loc else "settings"
    tail = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    return head + tail


def describe(exc: ValidationError, fields: Set[str]) -> str:
    """The first error of ``exc`` as one line: setting, environment variable, problem, fix."""
    error = exc.errors()[0]
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == _SETTING_ERROR:
        loc = (str(error["ctx"]["setting"]),)
    if len(loc) > 2 and loc[0] == "inputs" and loc[2] in _KIND_TAGS:
        loc = loc[:2] + loc[3:]  # pydantic names the union member; the user wrote none
    top = str(loc[0]) if loc else ""
    if error["type"] == "missing":
        message = "is required"
    elif error["type"] == "extra_forbidden":
        message = "is not a setting of the agent (misspelt?)"
    elif error["type"] == "union_tag_invalid":
        loc = (*loc, "kind")
        message = f"unknown input kind {error['ctx']['tag']!r}"
    elif error["type"] == "union_tag_not_found":
        loc = (*loc, "kind")
        message = "is required"
    setting = _setting_name(loc)
    where = f"{ENV_PREFIX}{top.upper()}" if top in fields else "config"
    leaf = str(loc[-1]) if loc else ""
    fix = _INNER_FIXES.get(leaf, "") if top in ("inputs", "indicator") and len(loc) > 1 else ""
    fix = fix or _FIXES.get(top, "")
    if fix and "e.g." not in message and "; " not in message:
        message = f"{message}; {fix}"
    more = exc.error_count() - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return " ".join(f"setting {setting} ({where}): {message}{suffix}".split())
