"""The ``affect-battery`` command line.

User mistakes (unreadable files, bad options, missing models) end with one line on stderr and
exit code 2, never a traceback. Exit 1 means the input was read and has findings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence

from ._util.atomic import check_output_path, write_output_text
from ._util.progress import progress_enabled
from ._version import __version__
from .analyses.config import METHODS
from .analyses.suite import AnalyzeConfig, run_suite
from .core.battery import battery_frame
from .core.paths import stimuli_dir
from .core.summary import battery_summary, format_summary
from .errors import (
    EXIT_FINDINGS,
    EXIT_OK,
    EXIT_USAGE,
    AffectBatteryError,
    ClassifierError,
    UsageError,
)
from .publish.card import DEFAULT_REPO_ID
from .publish.diff import diff_frames, format_diff, load_side
from .publish.export import export, verify_export
from .publish.hub import check_revision, push, upload_plan
from .validators.classifier import build_classifier, head_path
from .validators.defence import StructuralSummary, run_defence
from .validators.gate import FORMATTERS, GateReport, check_battery, format_text, run_gate
from .validators.item_defence import add_item_defence
from .validators.keyword_screen import screen_text
from .validators.lexicon import load_lexicon
from .validators.report import headline, render_markdown, write_report
from .validators.train_classifier import compare_head, save_head, train


def _add_format(p: argparse.ArgumentParser, choices: Sequence[str] = ("text", "json")) -> None:
    p.add_argument("--format", choices=list(choices), default="text",
                   help="output format (default: text)")


def _add_output(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", "-o", metavar="FILE",
                   help="also write the report to FILE (atomically; FILE must be a regular "
                   "file or a new path, never an input; nothing is written on exit 2)")
    p.add_argument("--follow-symlinks", action="store_true",
                   help="if FILE is a symbolic link, write to its target (refused otherwise)")


# One function per command: each adds its subparser and its options.

def _parser_gate(sub: argparse._SubParsersAction) -> None:
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
    g.add_argument("--defence", action="store_true",
                   help="add per-item defence checks: classifier P(emotional) and category, "
                   "bag-of-words P(clinical)")
    g.add_argument("--classifier", default="embedded", metavar="SPEC",
                   help="classifier for --defence (default: embedded)")


def _parser_validate(sub: argparse._SubParsersAction) -> None:
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
    _add_format(v)
    _add_output(v)


def _parser_train_classifier(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train-classifier",
                       help="re-train the embedded classifier head from data/classifier/")
    t.add_argument("--out", metavar="FILE",
                   help="where to write the head (default: the shipped file's path)")
    t.add_argument("--check", action="store_true",
                   help="retrain and compare with the shipped head (same predictions, weights "
                   "within tolerance); write nothing")


def _parser_stats(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("stats", help="counts, lengths and pair statistics of the battery")
    _add_format(s)


def _parser_export(sub: argparse._SubParsersAction) -> None:
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


def _parser_diff(sub: argparse._SubParsersAction) -> None:
    df = sub.add_parser("diff", help="items added, changed and removed between two versions")
    df.add_argument("old", help="export folder, or 'current'")
    df.add_argument("new", help="export folder, or 'current'")
    _add_format(df)


def _parser_push(sub: argparse._SubParsersAction) -> None:
    pu = sub.add_parser("push", help="upload an export folder to the Hub and tag it")
    pu.add_argument("folder", metavar="DIR")
    pu.add_argument("--repo-id", required=True, metavar="ORG/NAME")
    pu.add_argument("--revision", required=True, metavar="vX.Y.Z")
    pu.add_argument("--dry-run", action="store_true", help="list what would be uploaded")
    pu.add_argument("--private", action="store_true")


def _parser_analyze(sub: argparse._SubParsersAction) -> None:
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


def _parser_screen(sub: argparse._SubParsersAction) -> None:
    sc = sub.add_parser("screen", help="show emotion-lexicon hits in a text (stdin if none)")
    sc.add_argument("text", nargs="*")
    _add_format(sc)


def _parser_demo(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("demo", help="validate the shipped battery and run the defence battery "
                       "with the embedded classifier")
    d.add_argument("--out", default="defence-report", metavar="DIR",
                   help="report folder (default: defence-report)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="affect-battery",
        description="Keyword-free emotion stimulus battery: gate, validate and inspect it.")
    parser.add_argument("--version", action="version", version=f"affect-battery {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_parser_gate, _parser_validate, _parser_train_classifier, _parser_stats,
                _parser_export, _parser_diff, _parser_push, _parser_analyze,
                _parser_screen, _parser_demo):
        add(sub)
    return parser


def _checked_output(args: argparse.Namespace) -> str | None:
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


def _emit(text: str, output: str | None) -> None:
    """Write the report to ``output`` (already judged by :func:`_checked_output`) and stdout.
    The file goes first, so a refused or failed write leaves nothing half-said on stdout."""
    if output:
        write_output_text(output, text)  # refusals are UsageErrors: one line, exit 2
    sys.stdout.write(text)


def cmd_gate(args: argparse.Namespace) -> int:
    report = run_gate(args.files, with_battery=not args.no_battery, strict=args.strict,
                      lexicon=load_lexicon(args.lexicon))
    if args.defence:
        add_item_defence(report, args.files, args.classifier)
    _emit(FORMATTERS[args.format](report), args.output)
    return report.exit_code


def cmd_validate(args: argparse.Namespace) -> int:
    report = check_battery(strict=args.strict)
    if args.schema_only:
        _emit(FORMATTERS[args.format](report), args.output)
        return report.exit_code
    return _full_validate(args, report)


def _full_validate(args: argparse.Namespace, structural: GateReport) -> int:
    classifier = None
    if args.classifier != "none":
        classifier = build_classifier(args.classifier, device=args.device)
    report, items = run_defence(battery_frame(), classifier, progress=progress_enabled(),
                                strict=args.strict)
    report.structural = StructuralSummary.of(structural)
    out = write_report(report, items, args.out, figures=not args.no_figures,
                       extra_files={"structural.txt": format_text(structural)})
    if args.format == "json":
        text = json.dumps(report.to_dict(), indent=2) + "\n"
    else:
        text = (render_markdown(report) + f"\nStructural checks: "
                f"{format_text(structural).strip()}\nReport written to {out}/\n")
    _emit(text, args.output)
    return structural.exit_code


def cmd_train_classifier(args: argparse.Namespace) -> int:
    result = train()
    sys.stdout.write(result.describe())
    target = head_path()
    if args.check:
        if not target.is_file():
            raise UsageError(f"{target}: no shipped head to compare with")
        cmp = compare_head(target, result)
        sys.stdout.write(cmp.describe(target))
        return EXIT_OK if cmp.reproduced else EXIT_FINDINGS
    out = save_head(result, args.out or target)
    print(f"wrote {out}")
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    summary = battery_summary(battery_frame())
    if args.format == "json":
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        sys.stdout.write(format_summary(summary))
    return EXIT_OK


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


def cmd_demo(args: argparse.Namespace) -> int:
    """The main job on the embedded defaults: validate the battery and run the defence battery."""
    lex = load_lexicon()
    frame = battery_frame()
    summary = battery_summary(frame)
    print(f"affect-battery {__version__}: emotion-term lexicon with {lex.surface_forms()} "
          "surface forms\n")
    sys.stdout.write(format_summary(summary))
    strict = bool(summary["complete"])
    print(f"\nStructural and keyword checks ({'strict' if strict else 'draft'} mode):")
    structural = check_battery(strict=strict, lexicon=lex)
    sys.stdout.write(format_text(structural))
    try:
        classifier = build_classifier("embedded")
    except ClassifierError as exc:
        print(f"\n(contextual classifier skipped: {exc})")
        classifier = None
    print("\nDefence battery (embedded classifier, all offline)...")
    report, items = run_defence(frame, classifier, strict=strict)
    out = write_report(report, items, args.out)
    sys.stdout.write("\n" + headline(report) + f"\nFull report: {out}/report.md\n")
    return structural.exit_code


def cmd_export(args: argparse.Namespace) -> int:
    if args.verify:
        problems = verify_export(args.verify)
        for p in problems:
            print(f"{args.verify}: {p}")
        print("OK: export verifies" if not problems else f"FAILED: {len(problems)} problem(s)")
        return EXIT_FINDINGS if problems else EXIT_OK
    if not args.out:
        raise UsageError("give an output folder (or --verify DIR)")
    report = _load_json(args.report) if args.report else None
    results = _load_json(args.results) if args.results else None
    if report is None:

        classifier = None
        if args.classifier != "none":
            classifier = build_classifier(args.classifier)
        report = run_defence(battery_frame(), classifier, strict=True)[0].to_dict()
    out = export(args.out, report, results, force=args.force,
                 repo_id=args.repo_id or DEFAULT_REPO_ID)
    print(f"exported affect-battery {__version__} to {out}/")
    return EXIT_OK


def _load_json(path: str) -> dict:
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"{path}: file not found")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid JSON ({exc})") from None


def cmd_diff(args: argparse.Namespace) -> int:
    d = diff_frames(load_side(args.old), load_side(args.new))
    sys.stdout.write(json.dumps(d, indent=2) + "\n" if args.format == "json" else format_diff(d))
    return EXIT_OK


def cmd_push(args: argparse.Namespace) -> int:
    check_revision(args.revision)
    if args.dry_run:
        plan = upload_plan(args.folder)
        for item in plan:
            print(f"{item.size:>10}  {item.sha256[:12]}  {item.path}")
        print(f"dry run: {len(plan)} files, {sum(i.size for i in plan)} bytes would be uploaded "
              f"to datasets/{args.repo_id} and tagged {args.revision}")
        return EXIT_OK
    url = push(args.folder, args.repo_id, args.revision, private=args.private)
    print(f"pushed {args.folder} to datasets/{args.repo_id} and tagged {args.revision}: {url}")
    return EXIT_OK


def _int_list(text: str | None) -> list[int] | None:
    """``--layers``: numbers and inclusive ranges, e.g. ``0,4,8`` or ``0-11``."""
    if not text:
        return None
    out: list[int] = []
    for part in text.split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = part.split("-", 1)
                span = list(range(int(a), int(b) + 1))
                if not span:
                    raise UsageError(f"--layers: {part!r} is an empty range")
                out += span
            elif part:
                out.append(int(part))
        except ValueError:
            raise UsageError(f"--layers: {part!r} is not a layer number or range") from None
    return out


def cmd_analyze(args: argparse.Namespace) -> int:
    """Build an AnalyzeConfig (validated at construction) and run the suite. User mistakes
    arrive as AffectBatteryError subclasses, which main() prints as one line; nothing broader
    is caught here, so a bug keeps its traceback."""
    methods = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    splits = tuple(s.strip() for s in args.splits.split(",") if s.strip())
    cfg = AnalyzeConfig(model=args.model, out=args.out, methods=methods,
                        layers=_int_list(args.layers), splits=splits, preset=args.preset,
                        device=args.device, dtype=args.dtype, batch_size=args.batch_size,
                        seed=args.seed, patch_pairs=args.patch_pairs,
                        knockout_items=args.knockout_items, n_permutations=args.permutations,
                        use_cache=not args.no_cache, trust_remote_code=args.trust_remote_code,
                        max_items=args.max_items, progress=progress_enabled())
    results = run_suite(cfg)
    print(f"analyses of {args.model} written to {args.out}/")
    for k, v in results["headline"].items():
        print(f"  {k.replace('_', ' ')}: {v}")
    return EXIT_OK


COMMANDS = {"gate": cmd_gate, "analyze": cmd_analyze, "validate": cmd_validate, "stats": cmd_stats,
            "train-classifier": cmd_train_classifier, "export": cmd_export, "diff": cmd_diff,
            "push": cmd_push, "screen": cmd_screen, "demo": cmd_demo}


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        if getattr(args, "output", None):
            args.output = _checked_output(args)
        return COMMANDS[args.command](args)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
