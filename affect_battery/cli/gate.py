"""``gate`` and ``screen``: the keyword-free check other repositories put in their CI."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .._util.atomic import check_output_path
from .._util.extras import require
from ..errors import EXIT_FINDINGS, EXIT_OK, UsageError
from ..validators.gate import (
    FORMATTERS,
    format_markdown,
    root_stimulus_files,
    run_gate,
    stimulus_root,
)
from ..validators.keyword_screen import screen_text
from ..validators.lexicon import load_lexicon
from ._output import emit
from ._startup import settled_imports, without_data_synthesis


def cmd_gate(args: argparse.Namespace) -> int:
    if args.defence:  # the extras it needs, named before any work (one line, exit 2)
        require("validate", "sklearn", "scipy", what="gate --defence")
        from ..validators.classifier import check_backend  # only --defence pays for these

        check_backend(args.classifier)
    summary = _judged_paths(args)
    with settled_imports(), without_data_synthesis():
        report = run_gate(args.files, with_battery=not args.no_battery, strict=args.strict,
                          root=args.root, lexicon=load_lexicon(args.lexicon))
    if args.defence:
        from ..validators.item_defence import add_item_defence

        add_item_defence(report, args.files, args.classifier)
    emit(FORMATTERS[args.format](report), args.output)
    if summary is not None:
        _append(summary, format_markdown(report))
    return report.exit_code


def _judged_paths(args: argparse.Namespace) -> Path | None:
    """``--root``, ``--summary`` and (against the root's files) ``--output`` judged before any
    work, so a bad one fails fast and a report never lands on one of the root's stimuli.

    ``--output`` was judged by the CLI against the files given and the shipped battery; the
    root's files are inputs too. Returns the summary path to append to, if any.
    """
    inputs: list[str | Path] = [*args.files, *([args.lexicon] if args.lexicon else [])]
    if args.root is not None:
        folder = stimulus_root(args.root)
        if args.output or args.summary:
            inputs += root_stimulus_files(folder)
        if args.output:
            check_output_path(args.output, inputs=inputs, follow_symlinks=args.follow_symlinks)
    if not args.summary:
        return None
    return check_output_path(args.summary, inputs=inputs, follow_symlinks=args.follow_symlinks)


def _append(path: Path, text: str) -> None:
    """Append, not replace: a job summary file collects what every step of the job adds."""
    try:
        with path.open("a", encoding="utf-8") as fh:
            fh.write(text)
    except OSError as exc:
        raise UsageError(f"{path}: cannot append the summary ({exc.strerror})") from None


def cmd_screen(args: argparse.Namespace) -> int:
    """Lexicon hits in a text, each with its tier: exit 1 only for an error-tier hit (a review
    hit is a word with a common literal sense, shown for a person to judge)."""
    text = " ".join(args.text) if args.text else sys.stdin.read()
    hits = screen_text(text)  # normalised first: hidden or look-alike characters do not hide
    errors = [h for h in hits if h.tier == "error"]
    if args.format == "json":
        sys.stdout.write(json.dumps([h.__dict__ for h in hits], indent=2) + "\n")
    else:
        for h in hits:
            shown = h.matched if h.matched.isprintable() else ascii(h.matched)[1:-1]
            sys.stdout.write(f"{h.start}-{h.end}\t{h.tier}\t{shown}\t{'/'.join(h.emotions)}"
                             f"\t{h.term}\n")
        sys.stdout.write(f"{len(errors)} error hit(s), {len(hits) - len(errors)} review "
                         "hit(s)\n")
    return EXIT_FINDINGS if errors else EXIT_OK
