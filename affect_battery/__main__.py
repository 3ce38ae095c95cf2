"""``python -m affect_battery``: the same command line as ``affect-battery``."""

import sys

from .cli import main

sys.exit(main())
