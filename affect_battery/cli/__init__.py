"""The ``affect-battery`` command line.

User mistakes (unreadable files, bad options, missing models) end with one line on stderr and
exit code 2, never a traceback. Exit 1 means the input was read and has findings.

The package has one module per family of commands (``gate``, ``validate``, ``publish``,
``analyze``), the options of all of them in ``parsers``, and the shared output handling in
``_output``. Only the module of the command being run is imported, so ``affect-battery gate``
never pays for the analyses, the Hub client or the defence battery.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from .._version import __version__
from ..errors import EXIT_OK, EXIT_USAGE, AffectBatteryError
from ._output import checked_output
from .parsers import PARSERS

COMMANDS: dict[str, str] = {
    "gate": "gate:cmd_gate", "screen": "gate:cmd_screen",
    "validate": "validate:cmd_validate", "demo": "validate:cmd_demo",
    "stats": "validate:cmd_stats", "train-classifier": "validate:cmd_train_classifier",
    "export": "publish:cmd_export", "diff": "publish:cmd_diff", "push": "publish:cmd_push",
    "analyze": "analyze:cmd_analyze", "sweep": "sweep:cmd_sweep", "norms": "norms:cmd_norms",
    "sae-train": "sae:cmd_sae_train",
}
"""Each command as ``module:function`` inside this package, imported only when it runs."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="affect-battery",
        description="Keyword-free emotion stimulus battery: gate, validate and inspect it.")
    parser.add_argument("--version", action="version", version=f"affect-battery {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in PARSERS:
        add(sub)
    return parser


def command(name: str) -> Callable[[argparse.Namespace], int]:
    """The function that runs command ``name`` (its module imported now, not before)."""
    module, func = COMMANDS[name].split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), func)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        if getattr(args, "output", None):
            args.output = checked_output(args)
        return command(args.command)(args)
    except AffectBatteryError as exc:
        # Exit 2: nothing was written to --output, and a report from an earlier run was left as
        # it was; say so, on the same line, so CI does not read a stale report as this run's.
        note = (f" (no report written to {args.output})"
                if exc.exit_code == EXIT_USAGE and getattr(args, "output", None) else "")
        print(f"affect-battery {args.command}: error: {exc}{note}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        # The reader of our output went away (e.g. `| head -1`): not an error of ours or theirs.
        # Point stdout at devnull so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
