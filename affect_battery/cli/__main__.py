"""``python -m affect_battery.cli``: the same command line as ``affect-battery``."""

import sys

from . import main

sys.exit(main())
