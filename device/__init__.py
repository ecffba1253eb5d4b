"""The exhibit agent: counts a Pi's button presses and sensor events and reports them over MQTT.

Interactions go into a durable SQLite outbox before anything else, and leave it only when
the fleet confirmed it stored them. See ``device.runtime.agent.Agent`` for the moving parts;
the subpackages, by concern and importing downwards only (an import-linter ``layers``
contract): ``runtime`` > ``ops`` > ``gpio`` | ``outbox`` | ``link`` > ``settings`` >
``core`` > ``wire``.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("exhibit-fleet")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
