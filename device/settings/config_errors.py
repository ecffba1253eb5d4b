"""One line per configuration mistake: which setting, where it comes from, and the fix.

Reading the settings (``device.settings.setting_types``) reports *where* a value failed
(``("inputs", 0, "pin")``) and *what* failed; the agent's user needs the setting's name as
they wrote it (``inputs[0].pin``), the environment variable that sets it
(``EXHIBIT_INPUTS``) and how to fix it. Checks that span several settings report
``setting_error()``, which carries its setting's name.
"""

from __future__ import annotations

from collections.abc import Sequence, Set

from device.core.errors import ConfigError
from device.settings.setting_types import Loc, Problem

ENV_PREFIX = "EXHIBIT_"
INPUTS_EXAMPLE = '[{"name": "button", "kind": "button", "pin": 17}]'
_KINDS = "button, motion, distance, line, beam or rotary"

# How to fix a setting when the problem's own message does not say it: by the innermost
# name (fields of an input or of the indicator), then by the top-level setting.
_INNER_FIXES: dict[str, str] = {
    "name": "input names are lowercase letters, digits and _, starting with a letter",
    "kind": f"use {_KINDS}",
    "pin": "use the BCM GPIO number 0-27 it is wired to, e.g. 17",
    "echo_pin": "use the BCM GPIO number 0-27 of the sensor's ECHO, e.g. 24",
    "trigger_pin": "use the BCM GPIO number 0-27 of the sensor's TRIG, e.g. 23",
    "a_pin": "use the BCM GPIO number 0-27 of the encoder's A pin, e.g. 20",
    "b_pin": "use the BCM GPIO number 0-27 of the encoder's B pin, e.g. 21",
    "debounce_s": "use seconds between 0 and 60 that the new level must hold, e.g. 0.03",
    "press_debounce_s": "use seconds between 0 and 60 that a press must hold, e.g. 0.03",
    "release_debounce_s": "use seconds between 0 and 60 that a release must hold, e.g. 0.03",
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
    "outputs": 'give a JSON list like [{"name": "lamp", "kind": "led", "pin": 5}]',
    "behaviours": 'give a JSON list like [{"input": "button", "event": "press", '
    '"output": "lamp", "action": "on", "seconds": 5}]',
    "attract": 'give a JSON table like {"idle_s": 120, "actions": [{"output": "lamp", '
    '"action": "blink"}]}',
    "quiet_hours": 'give a JSON table like {"start": "18:00", "end": "08:00"}',
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


def setting_error(setting: str, message: str) -> Problem:
    """A problem of a check spanning several settings, naming the one to fix."""
    return Problem((setting,), "setting", message)


def _setting_name(loc: Loc) -> str:
    head = str(loc[0]) if loc else "settings"
    tail = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc[1:])
    return head + tail


def describe(problems: Sequence[Problem], fields: Set[str]) -> str:
    """The first of ``problems`` as one line: setting, environment variable, problem, fix."""
    problem = problems[0]
    loc = problem.loc
    message = problem.message
    top = str(loc[0]) if loc else ""
    if problem.kind == "missing":
        message = "is required"
    elif problem.kind == "extra":
        message = "is not a setting of the agent (misspelt?)"
    setting = _setting_name(loc)
    where = f"{ENV_PREFIX}{top.upper()}" if top in fields else "config"
    leaf = str(loc[-1]) if loc else ""
    fix = _INNER_FIXES.get(leaf, "") if top in ("inputs", "indicator") and len(loc) > 1 else ""
    fix = fix or _FIXES.get(top, "")
    if fix and "e.g." not in message and "; " not in message:
        message = f"{message}; {fix}"
    more = len(problems) - 1
    suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    return " ".join(f"setting {setting} ({where}): {message}{suffix}".split())


def raise_first(problems: Sequence[Problem], fields: Set[str] = frozenset()) -> None:
    """Raise the one-line ConfigError of ``problems``, if there are any."""
    if problems:
        raise ConfigError(describe(problems, fields))
