"""Progress bars for long runs that stay quiet in CI and when output is not a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import TypeVar

T = TypeVar("T")


def progress_enabled() -> bool:
    if os.environ.get("AFFECT_BATTERY_PROGRESS") == "1":
        return True
    if os.environ.get("CI") or os.environ.get("AFFECT_BATTERY_PROGRESS") == "0":
        return False
    return sys.stderr.isatty()


def progress_bar(iterable: Iterable[T], **kwargs: object) -> Iterable[T]:
    """A tqdm bar on stderr, or the iterable untouched when progress is disabled."""
    if not progress_enabled():
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, file=sys.stderr, leave=False, **kwargs)
