"""The MQTT contract (topics, versioned messages) and everything about running the broker.

This package imports nothing else of ours: the agent and the fleet API both depend on it.
"""
