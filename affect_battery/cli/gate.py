"""``gate`` and ``screen``: the keyword-free check other repositories put in their CI."""

from __future__ import annotations

import argparse
import json
import sys

from ..errors import EXIT_FINDINGS, EXIT_OK
from ..validators.gate import FORMATTERS, run_gate
from ..validators.item_defence import add_item_defence
from ..validators.keyword_screen import screen_text
from ..validators.lexicon import load_lexicon
from ._output import emit


def cmd_gate(args: argparse.Namespace) -> int:
    report = run_gate(args.files, with_battery=not args.no_battery, strict=args.strict,
                      lexicon=load_lexicon(args.lexicon))
    if args.defence:
        add_item_defence(report, args.files, args.classifier)
    emit(FORMATTERS[args.format](report), args.output)
    return report.exit_code


def cmd_screen(args: argparse.Namespace) -> int:
    text = " ".join(args.text) if args.text else sys.stdin.read()
    hits = screen_text(text)  # normalised first: hidden or look-alike characters do not hide
    if args.format == "json":
        sys.stdout.write(json.dumps([h.__dict__ for h in hits], indent=2) + "\n")
    else:
        for h in hits:
            shown = h.matched if h.matched.isprintable() else ascii(h.matched)[1:-1]
            sys.stdout.write(f"{h.start}-{h.end}\t{shown}\t{'/'.join(h.emotions)}\t"
                             f"{h.term}\n")
        sys.stdout.write(f"{len(hits)} hit(s)\n")
    return EXIT_FINDINGS if hits else EXIT_OK
