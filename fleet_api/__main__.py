"""``python -m fleet_api serve|migrate``: the same CLI as the ``fleet-api`` script."""

from __future__ import annotations

from fleet_api.cli import main

raise SystemExit(main())
