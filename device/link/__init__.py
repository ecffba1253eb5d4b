"""The agent's seam to the broker: ``base`` (the protocol, so tests use a recording fake) and
``mqtt`` (paho-mqtt, the only module importing it).
"""
