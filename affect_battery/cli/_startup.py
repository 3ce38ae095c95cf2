"""Start-up work the command line can skip.

pandera imports ``hypothesis`` (when it is installed, as in any development environment) the
first time it validates, only to offer data synthesis, which no command uses: about 0.7 s of a
2-item gate run. :func:`without_data_synthesis` hides ``hypothesis`` from that one import, for
the duration of a command, in the command-line process only (library users keep pandera's
strategies), and only when nothing in the process has imported ``hypothesis`` already.

:func:`settled_imports` moves every object the imports made (pandas, pyarrow, pandera: a few
hundred thousand) out of the garbage collector's reach: a short command that builds many small
objects (n-gram sets, row records) otherwise pays for full collections that walk all of them
again and again, for nothing, since module-level objects live as long as the process.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def without_data_synthesis() -> Iterator[None]:
    hidden = "hypothesis" not in sys.modules
    if hidden:
        sys.modules["hypothesis"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        yield
    finally:
        if hidden and sys.modules.get("hypothesis", 0) is None:
            del sys.modules["hypothesis"]  # a later import in this process works as usual


@contextmanager
def settled_imports() -> Iterator[None]:
    """``gc.freeze()`` for the duration of a command: the objects alive at its start are not
    scanned while it runs; everything made meanwhile is collected as usual. ``gc.unfreeze()``
    at the end hands them back, so a long-lived process calling ``main()`` (a test suite)
    keeps no garbage."""
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
