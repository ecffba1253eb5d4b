"""Runs many real exhibit agents on gpiozero mock pins with scripted visitors.

It talks to the fleet only over MQTT (through the agents) and HTTP, like the real fleet.
"""
