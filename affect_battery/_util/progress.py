"""What a long run says while it works: stage lines and progress bars, both on stderr.

Two kinds of output, so a log stays readable and a terminal stays informative:

- :func:`stage` prints one line when a long step starts ("defence battery: NRC lexicon"), so
  ``export`` or ``demo`` never sit silent for a minute. Cheap and useful in CI logs too, so on by
  default.
- :func:`progress_bar` draws a tqdm bar, only on a terminal and never in CI.

The environment decides, in this order (documented in README.md, "Progress output"):

1. ``AFFECT_BATTERY_PROGRESS=0`` turns both off; ``=1`` turns both on, even in CI or a pipe;
2. the standard switches ``TQDM_DISABLE=1`` and ``HF_HUB_DISABLE_PROGRESS_BARS=1`` turn both off;
3. otherwise stage lines are on, and bars are on when stderr is a terminal and ``CI`` is unset.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")

OFF_SWITCHES = ("TQDM_DISABLE", "HF_HUB_DISABLE_PROGRESS_BARS")
"""Standard variables other tools honour; set to a true value, they silence ours as well."""


def _flag(name: str) -> bool | None:
    """A boolean environment variable: True, False, or None when unset or empty."""
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return None
    return value not in {"0", "false", "no", "off"}


def _forced() -> bool | None:
    """``AFFECT_BATTERY_PROGRESS`` if set, else False when a standard off switch is set."""
    own = _flag("AFFECT_BATTERY_PROGRESS")
    if own is not None:
        return own
    if any(_flag(name) for name in OFF_SWITCHES):
        return False
    return None


def progress_enabled() -> bool:
    """Whether to draw progress bars (tqdm) on stderr."""
    forced = _forced()
    if forced is not None:
        return forced
    if os.environ.get("CI"):
        return False
    return sys.stderr.isatty()


def stages_enabled() -> bool:
    """Whether to print stage lines on stderr (on unless switched off)."""
    forced = _forced()
    return True if forced is None else forced


def stage(message: str) -> None:
    """One line on stderr saying which step of a long run starts now."""
    if stages_enabled():
        print(f"affect-battery: {message}", file=sys.stderr, flush=True)


def progress_bar(iterable: Iterable[T], **kwargs: object) -> Iterable[T]:
    """A tqdm bar on stderr, or the iterable untouched when progress is disabled."""
    if not progress_enabled():
        return iterable
    from tqdm import tqdm

    # disable=False: tqdm would read TQDM_DISABLE itself; AFFECT_BATTERY_PROGRESS=1 outranks it.
    return tqdm(iterable, file=sys.stderr, leave=False, **{"disable": False, **kwargs})
