"""The running agent: ``agent`` (wires everything, starts and stops), ``worker`` (the one thread
that acts), ``sender`` (outbox to broker), ``reports`` (command outcomes), ``sdnotify`` and
``cli`` (``exhibit-agent``).
"""
