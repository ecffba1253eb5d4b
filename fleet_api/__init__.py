"""The fleet API: MQTT ingestion, storage and usage per visit for the exhibit fleet.

It imports the MQTT contract from ``broker`` and never ``device`` or ``simulator``.
Only :mod:`fleet_api.mqtt_source` imports paho. Nothing is built at import time:
:func:`fleet_api.main.create_app` builds the app, its lifespan builds the engine.
"""

from __future__ import annotations

__version__ = "0.1.0"
