"""The one way figures are drawn and saved: matplotlib on the Agg backend (no display needed on
CI or a server), imported only when a figure is drawn, saved without a timestamp or software tag
so the same data gives the same PNG bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the Agg backend, imported now (matplotlib is an extra)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: str | Path) -> None:
    """Lay out, write and close ``fig``; no metadata that would change between runs."""
    fig.tight_layout()
    fig.savefig(path, metadata={"Software": None})
    pyplot().close(fig)
