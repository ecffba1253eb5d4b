"""What the agent tells and does for technicians: ``commands`` and ``selftest``, ``status`` (birth,
will, heartbeat), ``status_report`` (``exhibit-agent status``), ``health`` readings,
``identity`` (which Pi, which card) and ``instance`` (one agent per data directory).
"""
