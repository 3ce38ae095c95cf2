"""What every command shares: judging ``--output`` before any work, and writing the report.

The output path is judged first (a folder, device, FIFO, unfollowed symbolic link or one of the
run's own inputs is refused with exit 2), so a refusal never follows a long run; see
``_util.atomic`` for the write itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .._util.atomic import check_output_path, write_output_text
from ..core.paths import stimuli_dir
from ..errors import UsageError


def checked_output(args: argparse.Namespace) -> str | None:
    """Judge ``--output`` before any work: the path to write (a followed symbolic link resolved),
    or a UsageError for a folder, device, FIFO, socket, unfollowed link, a path under a
    non-folder, or one of the run's inputs (the files given, --lexicon, the battery's stimuli)."""
    output = getattr(args, "output", None)
    if not output:
        return None
    inputs = list(getattr(args, "files", None) or [])
    if getattr(args, "lexicon", None):
        inputs.append(args.lexicon)
    try:
        shipped = [p for p in stimuli_dir().iterdir() if p.is_file()]
    except OSError:  # no battery here: the command itself will say so
        shipped = []
    inputs += shipped
    return str(check_output_path(output, inputs=inputs,
                                 follow_symlinks=getattr(args, "follow_symlinks", False)))


def emit(text: str, output: str | None) -> None:
    """Write the report to ``output`` (already judged by :func:`checked_output`) and stdout.
    The file goes first, so a refused or failed write leaves nothing half-said on stdout."""
    if output:
        write_output_text(output, text)  # refusals are UsageErrors: one line, exit 2
    sys.stdout.write(text)


def load_json(path: str) -> Any:
    """A JSON file the user named (``--report``, ``--results``): a missing or malformed file is
    a UsageError line, never a traceback."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: file not found")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise UsageError(f"{path}: not valid JSON ({type(exc).__name__})") from None
