"""affect-battery: a keyword-free emotion stimulus battery for interpretability research.

Public API::

    from affect_battery import load_battery, EMOTIONS, SPLITS
    battery = load_battery()          # datasets.DatasetDict with the five splits
"""

from ._version import __version__
from .core.battery import battery_frame, load_battery, matched_pairs, quadruplets
from .core.constants import EMOTIONS, INTENSE_NAMES, LABELS, SPLITS

__all__ = [
    "EMOTIONS",
    "INTENSE_NAMES",
    "LABELS",
    "SPLITS",
    "__version__",
    "battery_frame",
    "load_battery",
    "matched_pairs",
    "quadruplets",
]
