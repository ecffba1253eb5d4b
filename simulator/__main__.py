"""``python -m simulator`` is ``exhibit-sim``."""

import sys

from simulator.cli import main

sys.exit(main())
