"""The agent's side of the MQTT contract (``broker.messages``), written and read with the standard
library: ``codec`` (records, status, heartbeat, inbound messages), ``values`` (the
contract's checks), ``custody`` (the fleet's custody acknowledgements and resend requests).
"""
