"""Where the battery's data lives, in an installed wheel and in a source checkout.

The wheel carries ``data/`` as ``affect_battery/_data``; an editable install or a plain checkout
reads the top-level ``data/`` directly, so authors see their edits without reinstalling.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The battery's data root: ``$AFFECT_BATTERY_DATA`` if set, else :func:`package_data_dir`.

    The override points the loader, gate and reports at another battery (stimuli/ and, if
    present, norms/); tools that belong to the package (lexicon, classifier) stay put.
    """
    override = os.environ.get("AFFECT_BATTERY_DATA")
    if override:
        return Path(override)
    return package_data_dir()


def package_data_dir() -> Path:
    """The data shipped with the package: the wheel's copy, or the checkout's ``data/``."""
    packaged = _PACKAGE_DIR / "_data"
    if packaged.is_dir():
        return packaged
    checkout = _PACKAGE_DIR.parent / "data"
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(
        "affect-battery data not found: reinstall the package (pip install affect-battery) or "
        "set AFFECT_BATTERY_DATA to a folder containing stimuli/ and lexicon/")


def stimuli_dir() -> Path:
    return data_dir() / "stimuli"
