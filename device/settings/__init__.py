"""The agent's configuration: ``config`` (settings file and environment), ``wiring`` (inputs and
their pins), ``setting_types`` and ``config_errors`` (one-line errors naming the setting).
"""
