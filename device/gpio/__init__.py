"""The exhibit's pins through gpiozero: ``inputs`` (the only production module importing
gpiozero), ``interactions`` (edges to interactions, the stable-level debounce), ``indicator``
(the LED's patterns) and ``mock`` (driving mock pins: tests and the simulator only).
"""
