"""The ``affect-battery`` command line.

User mistakes (unreadable files, bad options, missing models) end with one line on stderr and
exit code 2, never a traceback. Exit 1 means the input was read and has findings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from ._version import __version__
from .atomic import atomic_write_text
from .findings import InputError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """A mistake in how the command was called; printed as one line, exit 2."""


def _add_format(p: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json")) -> None:
    p.add_argument("--format", choices=list(choices), default="text",
                   help="output format (default: text)")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", metavar="FILE",
                   help="also write the report to FILE (atomically)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="affect-battery",
        description="Keyword-free emotion stimulus battery: gate, validate and inspect it.")
    parser.add_argument("--version", action="version", version=f"affect-battery {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    g = sub.add_parser("gate", help="check new stimulus items (JSONL, CSV or Parquet) for CI",
                       description="Check new items together with the shipped battery. Exit 0 "
                       "clean, 1 findings, 2 unusable input.")
    g.add_argument("files", nargs="+", metavar="FILE")
    _add_format(g, ("text", "json", "github"))
    _add_output(g)
    g.add_argument("--strict", action="store_true",
                   help="also require the combined battery to be complete (release counts)")
    g.add_argument("--no-battery", action="store_true",
                   help="check the files on their own, not against the shipped battery")
    g.add_argument("--lexicon", metavar="YAML", help="use another emotion-term lexicon")

    v = sub.add_parser("validate", help="re-run the checks on the shipped battery")
    mode = v.add_mutually_exclusive_group()
    mode.add_argument("--strict", dest="strict", action="store_true", default=True,
                      help="require the complete release counts (default)")
    mode.add_argument("--draft", dest="strict", action="store_false",
                      help="check everything but completeness, for batteries being written")
    v.add_argument("--schema-only", action="store_true",
                   help="structural and keyword checks only (no defence-battery statistics)")
    _add_format(v)
    _add_output(v)

    s = sub.add_parser("stats", help="counts, lengths and pair statistics of the battery")
    _add_format(s)

    sc = sub.add_parser("screen", help="show emotion-lexicon hits in a text (stdin if none)")
    sc.add_argument("text", nargs="*")
    _add_format(sc)

    sub.add_parser("demo", help="validate the shipped battery in draft mode and summarise it")
    return parser


def _emit(text: str, output: str | None) -> None:
    sys.stdout.write(text)
    if output:
        atomic_write_text(output, text)


def cmd_gate(args: argparse.Namespace) -> int:
    from .validators.gate import FORMATTERS, run_gate
    from .validators.lexicon import load_lexicon

    lexicon = _load_lexicon(args.lexicon) if args.lexicon else load_lexicon()
    report = run_gate(args.files, with_battery=not args.no_battery, strict=args.strict,
                      lexicon=lexicon)
    _emit(FORMATTERS[args.format](report), args.output)
    return report.exit_code


def _load_lexicon(path: str):
    from pathlib import Path

    import yaml

    from .validators.lexicon import load_lexicon

    if not Path(path).is_file():
        raise UsageError(f"{path}: lexicon file not found")
    try:
        return load_lexicon(path)
    except (yaml.YAMLError, ValueError) as exc:
        raise UsageError(f"{path}: not a valid lexicon ({str(exc).splitlines()[0]})") from None


def cmd_validate(args: argparse.Namespace) -> int:
    from .validators.gate import FORMATTERS, check_battery

    if not args.schema_only:
        raise UsageError("the statistical defence battery (VADER, NRC, classifier) is not part "
                         "of this release yet; run 'affect-battery validate --schema-only'")
    report = check_battery(strict=args.strict)
    _emit(FORMATTERS[args.format](report), args.output)
    return report.exit_code


def cmd_stats(args: argparse.Namespace) -> int:
    from .battery import battery_frame
    from .summary import battery_summary, format_summary

    summary = battery_summary(battery_frame())
    if args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stdout.write(format_summary(summary))
    return EXIT_OK


def cmd_screen(args: argparse.Namespace) -> int:
    from .validators.lexicon import load_lexicon

    text = " ".join(args.text) if args.text else sys.stdin.read()
    hits = load_lexicon().screen(text)
    if args.format == "json":
        sys.stdout.write(json.dumps([h.__dict__ for h in hits], indent=2) + "\n")
    else:
        for h in hits:
            sys.stdout.write(f"{h.start}-{h.end}\t{h.matched}\t{'/'.join(h.emotions)}\t"
                             f"{h.term}\n")
        sys.stdout.write(f"{len(hits)} hit(s)\n")
    return EXIT_FINDINGS if hits else EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .battery import battery_frame
    from .summary import battery_summary, format_summary
    from .validators.gate import check_battery, format_text
    from .validators.lexicon import load_lexicon

    lex = load_lexicon()
    print(f"affect-battery {__version__}: emotion-term lexicon with {lex.surface_forms()} "
          "surface forms")
    print()
    sys.stdout.write(format_summary(battery_summary(battery_frame())))
    print()
    print("Validation (draft mode: every rule except release completeness):")
    report = check_battery(strict=False, lexicon=lex)
    sys.stdout.write(format_text(report))
    example = ("Amara found the fence her neighbour had promised to mend lying in her garden, "
               "and she was furious.")
    hits = lex.screen(example)
    print()
    print(f"Keyword screen example: {example!r}")
    for h in hits:
        print(f"  hit: {h.matched!r} -> {'/'.join(h.emotions)} at offset {h.start}")
    return report.exit_code


COMMANDS = {"gate": cmd_gate, "validate": cmd_validate, "stats": cmd_stats,
            "screen": cmd_screen, "demo": cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        return COMMANDS[args.command](args)
    except InputError as exc:
        print(f"affect-battery {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"affect-battery {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
