"""``python -m connectors.simulator``: the simulator without the ``ketnoi`` CLI."""

import sys

from connectors.simulator.cli import main

sys.exit(main())
