"""The command line's options: one function per command, argparse only.

Kept apart from the commands themselves so that building the parser imports nothing heavy: the
command that runs is imported on its own (see :data:`affect_battery.cli.COMMANDS`), which keeps
``affect-battery gate`` from loading the analyses, the Hub client or the defence battery.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from ..analyses.config import METHODS


def add_format(p: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json")) -> None:
    p.add_argument("--format", choices=list(choices), default="text",
                   help="output format (default: text)")


def add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", metavar="FILE",
                   help="also write the report to FILE (atomically; FILE must be a regular "
                   "file or a new path, never an input; nothing is written on exit 2)")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="if FILE is a symbolic link, write to its target (refused otherwise)")


def parser_gate(sub: argparse._SubParsersAction) -> None:
    g = sub.add_parser("gate", help="check new stimulus items (JSONL, CSV or Parquet) for CI",
                       description="Check new items together with the shipped battery. Exit 0 "
                       "clean, 1 findings, 2 unusable input.")
    g.add_argument("files", nargs="+", metavar="FILE")
    add_format(g, ("text", "json", "github"))
    add_output(g)
    g.add_argument("--strict", action="store_true",
                   help="also require the combined battery to be complete (release counts)")
    g.add_argument("--no-battery", action="store_true",
                   help="check the files on their own, not against the shipped battery")
    g.add_argument("--lexicon", metavar="YAML", help="use another emotion-term lexicon")
    g.add_argument("--defence", action="store_true",
                   help="add per-item defence checks: classifier P(emotional) and category, "
                   "bag-of-words P(clinical)")
    g.add_argument("--classifier", default="embedded", metavar="SPEC",
                   help="classifier for --defence (default: embedded)")


def parser_validate(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("validate", help="re-run the checks on the shipped battery")
    mode = v.add_mutually_exclusive_group()
    mode.add_argument("--strict", dest="strict", action="store_true", default=True,
                      help="require the complete release counts (default)")
    mode.add_argument("--draft", dest="strict", action="store_false",
                      help="check everything but completeness, for batteries being written")
    v.add_argument("--schema-only", action="store_true",
                   help="structural and keyword checks only (no defence-battery statistics)")
    v.add_argument("--classifier", default="embedded", metavar="SPEC",
                   help="contextual classifier: embedded (offline, default), hf, "
                   "hf:<model id or folder>, or none")
    v.add_argument("--out", default="defence-report", metavar="DIR",
                   help="report folder (default: defence-report)")
    v.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    v.add_argument("--device", default="cpu", help="torch device for the classifier")
    add_format(v)
    add_output(v)


def parser_train_classifier(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train-classifier",
                       help="re-train the embedded classifier head from data/classifier/")
    t.add_argument("--out", metavar="FILE",
                   help="where to write the head (default: the shipped file's path)")
    t.add_argument("--check", action="store_true",
                   help="retrain and compare with the shipped head (same predictions, weights "
                   "within tolerance); write nothing")


def parser_stats(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("stats", help="counts, lengths and pair statistics of the battery")
    add_format(s)


def parser_export(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("export", help="build the Hugging Face dataset folder",
                       description="Parquet per split, dataset card and datasheet rendered from "
                       "the data and the defence report, manifest, citation, changelog.")
    e.add_argument("out", nargs="?", metavar="OUT")
    e.add_argument("--force", action="store_true", help="replace a non-empty OUT")
    e.add_argument("--report", metavar="JSON", help="a strict-mode defence report.json to "
                   "use (default: run the defence battery now)")
    e.add_argument("--results", metavar="JSON", help="an analyses results.json to summarise")
    e.add_argument("--classifier", default="embedded", metavar="SPEC",
                   help="classifier when the defence battery runs now (default: embedded)")
    e.add_argument("--repo-id", default=None, metavar="ORG/NAME",
                   help="Hub repository named in the card")
    e.add_argument("--verify", metavar="DIR", help="check an existing export instead: "
                   "manifest and card re-render")


def parser_diff(sub: argparse._SubParsersAction) -> None:
    df = sub.add_parser("diff", help="items added, changed and removed between two versions")
    df.add_argument("old", help="export folder, or 'current'")
    df.add_argument("new", help="export folder, or 'current'")
    add_format(df)


def parser_push(sub: argparse._SubParsersAction) -> None:
    pu = sub.add_parser("push", help="upload an export folder to the Hub and tag it")
    pu.add_argument("folder", metavar="DIR")
    pu.add_argument("--repo-id", required=True, metavar="ORG/NAME")
    pu.add_argument("--revision", required=True, metavar="vX.Y.Z")
    pu.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    pu.add_argument("--private", action="store_true")


def parser_analyze(sub: argparse._SubParsersAction) -> None:
    an = sub.add_parser("analyze", help="run the reference interpretability suite on a model",
                        description="Probing, exact and attribution patching, knockout, "
                        "geometry and steering on any Hugging Face model over the battery.")
    an.add_argument("--model", required=True, metavar="ID|PATH|ALIAS",
                    help="Hub id, local folder, or alias: smollm2-135m, minilm")
    an.add_argument("--methods", default=",".join(METHODS), metavar="LIST",
                    help=f"comma-separated subset of {','.join(METHODS)}")
    an.add_argument("--layers", metavar="LIST", help="layer indices, e.g. 0,4,8 or 0-11")
    an.add_argument("--splits", default="clinical,neutral,moderate,keyword_rich,complex_neutral",
                    metavar="LIST")
    an.add_argument("--preset", default="two_shot", choices=["two_shot", "raw"])
    an.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    an.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    an.add_argument("--batch-size", type=int, default=16)
    an.add_argument("--patch-pairs", type=int, default=8, help="pairs per patching type")
    an.add_argument("--knockout-items", type=int, default=8,
                    help="clinical items (with their neutrals) for knockout")
    an.add_argument("--permutations", type=int, default=50)
    an.add_argument("--max-items", type=int, help="a quick run on a small subset")
    an.add_argument("--seed", type=int, default=0)
    an.add_argument("--no-cache", action="store_true", help="do not read or write the "
                    "activation cache")
    an.add_argument("--trust-remote-code", action="store_true",
                    help="allow a Hub model's own code to run (off by default)")
    an.add_argument("--out", default="analysis", metavar="DIR")


def parser_screen(sub: argparse._SubParsersAction) -> None:
    sc = sub.add_parser("screen", help="show emotion-lexicon hits in a text (stdin if none)")
    sc.add_argument("text", nargs="*")
    add_format(sc)


def parser_demo(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo", help="validate the shipped battery and run the defence battery "
                       "with the embedded classifier")
    d.add_argument("--out", default="defence-report", metavar="DIR",
                   help="report folder (default: defence-report)")


PARSERS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    parser_gate, parser_validate, parser_train_classifier, parser_stats, parser_export,
    parser_diff, parser_push, parser_analyze, parser_screen, parser_demo)
"""In the order ``affect-battery --help`` lists the commands."""
